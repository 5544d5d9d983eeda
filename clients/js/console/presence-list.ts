/**
 * Who is connected, member by member (name, role, channel, data), in the "Who is connected" card: loaded with the
 * `presence` pages when a pane joins (the speaker always may; a listener when the session's presence is public),
 * then kept live from each `presenceChanged` (joined, left, updated). Past the server's PRESENCE_MEMBERS_MAX a
 * notice carries the counts only: the card then says the list is no longer live and offers a reload. The
 * speaker's console removes a listener from its row (Kick, or Ban: kick and keep its user or name out).
 */

import { ActionError, LiveSessionError, type LiveSession, type PresenceChangedEvent, type PresenceMember } from "../src/index.js";
import { $, element } from "./dom.js";
import { dataText } from "./events-table.js";

export interface PresenceListOptions {
  /** Whether the console holds the speaker's connection to `sessionId` (the kick buttons show then). */
  canKick: (sessionId: string) => boolean;
  /** Removes the member (`ban`: and keeps it out); the pane reports a refusal. */
  kick: (member: PresenceMember, ban: boolean, button: HTMLButtonElement) => void;
}

/** How many members a `presence` page asks for while loading the list. */
const PAGE = 100;

export class PresenceList {
  private readonly members = new Map<string, PresenceMember>();
  private sessionId: string | null = null;
  private loadedFrom: LiveSession | null = null;
  private countsOnly = false;
  private shownKickable = false;
  private channels: Record<string, number> = {};
  private readonly list: HTMLUListElement;
  private readonly status: HTMLElement;

  constructor(
    root: HTMLElement,
    private readonly options: PresenceListOptions,
  ) {
    this.list = $<HTMLUListElement>("ul.members", root);
    this.status = $<HTMLElement>(".note", root);
    $<HTMLButtonElement>("button.reload", root).addEventListener("click", () => {
      if (this.loadedFrom) void this.load(this.loadedFrom);
    });
  }

  /** Every member, page by page; a refusal (a listener on a speaker-only session) is said, and keeps a list
   * another pane already loaded for the same session. */
  async load(live: LiveSession): Promise<void> {
    const sessionId = live.sessionId;
    try {
      const members: PresenceMember[] = [];
      for await (const page of live.presencePages({ limit: PAGE })) members.push(...page.members);
      this.show(sessionId, members);
      this.loadedFrom = live;
      this.say(`${members.length} connected, live from presenceChanged`);
    } catch (error) {
      if (this.sessionId === sessionId && this.loadedFrom && this.loadedFrom !== live) return;
      this.show(sessionId, []);
      const forbidden = error instanceof ActionError && error.code === "FORBIDDEN";
      const why = error instanceof LiveSessionError ? error.message : String(error);
      this.say(forbidden ? "the member list is the speaker's on this session (its presence is not public)" : `members not loaded: ${why}`);
    }
  }

  /** A `presenceChanged` of `sessionId` (from any pane: applying one twice changes nothing). */
  apply(sessionId: string, event: PresenceChangedEvent): void {
    if (sessionId !== this.sessionId) return;
    this.channels = event.channels;
    if (!event.joined && !event.left && !event.updated) {
      // Past PRESENCE_MEMBERS_MAX the server sends counts only: the members shown are no longer the truth.
      this.countsOnly = true;
      this.say(`${event.count} connected: too many for a live list (counts only); reload for the members now`);
      this.render();
      return;
    }
    for (const member of [...(event.joined ?? []), ...(event.updated ?? [])]) this.members.set(member.connectionId, member);
    for (const connectionId of event.left ?? []) this.members.delete(connectionId);
    if (!this.countsOnly) this.say(`${event.count} connected, live from presenceChanged`);
    this.render();
  }

  /** A member the speaker removed (the answer to its `kick` says it is gone). */
  removed(connectionId: string): void {
    if (this.members.delete(connectionId)) this.render();
  }

  /** Anything in the panes changed: the kick buttons follow whether the speaker's connection is there. */
  refresh(): void {
    if (this.kickable() !== this.shownKickable) this.render();
  }

  private kickable(): boolean {
    return this.sessionId !== null && this.options.canKick(this.sessionId);
  }

  private show(sessionId: string, members: PresenceMember[]): void {
    this.sessionId = sessionId;
    this.countsOnly = false;
    this.members.clear();
    for (const member of members) this.members.set(member.connectionId, member);
    this.render();
  }

  private say(text: string): void {
    this.status.textContent = text;
  }

  private render(): void {
    const canKick = (this.shownKickable = this.kickable());
    const rows = [...this.members.values()].sort((a, b) => a.joinedAt - b.joinedAt).map((member) => this.row(member, canKick));
    this.list.replaceChildren(...rows);
    this.list.dataset["channels"] = JSON.stringify(this.channels);
  }

  private row(member: PresenceMember, canKick: boolean): HTMLLIElement {
    const item = element(
      "li",
      { className: member.role },
      element("span", { className: "who", text: member.name ?? "(no name)", title: member.userId ? `user ${member.userId}` : "anonymous" }),
      element("span", { className: "role", text: member.role }),
      element("span", { className: "channel", text: member.channel ? `#${member.channel}` : "main" }),
      element("code", { className: "data", text: member.data === undefined || member.data === null ? "" : dataText(member.data) }),
    );
    item.dataset["connectionId"] = member.connectionId;
    if (canKick && member.role === "listener") {
      for (const ban of [false, true]) {
        const button = element("button", { className: ban ? "ban" : "kick", text: ban ? "Ban" : "Kick", title: ban ? "remove, and keep this user or name out" : "remove from the session" });
        button.type = "button";
        button.addEventListener("click", () => this.options.kick(member, ban, button));
        item.append(button);
      }
    }
    return item;
  }
}
