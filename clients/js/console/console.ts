/**
 * The console page: a debugging console for live sessions in the manner of Ably's and Pusher's. Sign in
 * with a token, create a session, listen and speak side by side, and watch the session (status, `seq`,
 * epoch, who is connected) and every event as it arrives. It is also the example of a listener app: all it
 * needs is the client's public API, `LiveSession` and `HttpApi`.
 *
 * URL parameters (all optional): `http` and `ws` (the APIs; default: what the local stack's config.json says),
 * `session` (fills both panes), `join=listener` (joins at once), `token` (signs in).
 */

import { HttpApi, type LiveSession } from "../src/index.js";
import { ArtifactsPanel } from "./artifacts-panel.js";
import { parseChannels } from "./channels.js";
import { $, hint, whileBusy } from "./dom.js";
import { refusalRow } from "./events-table.js";
import { Pane } from "./pane.js";
import { PresenceList } from "./presence-list.js";
import { ReactionsBoard, wireReactButtons } from "./reactions.js";
import { SessionPanel } from "./session-panel.js";

interface Config {
  httpUrl: string;
  wsUrl: string;
}

const TOKEN_KEY = "live-sessions-token";
const params = new URLSearchParams(location.search);
let token: string | undefined = params.get("token") ?? sessionStorage.getItem(TOKEN_KEY) ?? undefined;

async function loadConfig(): Promise<Config> {
  const fallback = { httpUrl: location.origin, wsUrl: `ws://${location.hostname}:3001` };
  try {
    const response = await fetch("config.json");
    if (response.ok) Object.assign(fallback, (await response.json()) as Partial<Config>);
  } catch {
    // served by something else than the local stack: the defaults, or the URL parameters, apply
  }
  return { httpUrl: params.get("http") ?? fallback.httpUrl, wsUrl: params.get("ws") ?? fallback.wsUrl };
}

function currentUrls(): Config {
  return { httpUrl: $<HTMLInputElement>("#http-url").value.trim(), wsUrl: $<HTMLInputElement>("#ws-url").value.trim() };
}

/** Who a token says it is (its `sub`), read without verifying: the server verifies it. */
function tokenSubject(jwt: string): string | undefined {
  try {
    const payload = jwt.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === "string" ? sub : undefined;
  } catch {
    return undefined;
  }
}

function showSignedIn(): void {
  $<HTMLInputElement>("#token").value = token ?? "";
  $<HTMLElement>("#who").textContent = token
    ? `signed in as ${tokenSubject(token) ?? "(unreadable token)"}`
    : "not signed in (listeners need no token)";
}

/** Text with nothing visible in it (whitespace, zero-width and other format characters): the server refuses it. */
function isBlank(text: string): boolean {
  return /^[\s\p{Cf}]*$/u.test(text);
}

/** A line that parses as JSON is sent as that JSON (`{"slide": 3}`, `42`); anything else as a string. */
function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

type Control = "pause" | "resume" | "mute" | "unmute" | "end";

/** The speaker's controls follow the session: only what the server would accept now is enabled. */
function allowedControls(live: LiveSession | null): Record<Control | "say", boolean> {
  const view = live?.session;
  const speaking = live?.state === "connected" && live.role === "speaker" && view != null && view.status !== "ended";
  return {
    say: speaking,
    pause: speaking && view.status === "active",
    resume: speaking && view.status === "paused",
    mute: speaking && !view.muted,
    unmute: speaking && view.muted,
    end: speaking,
  };
}

async function main(): Promise<void> {
  const config = await loadConfig();
  $<HTMLInputElement>("#http-url").value = config.httpUrl;
  $<HTMLInputElement>("#ws-url").value = config.wsUrl;
  showSignedIn();

  const panel = new SessionPanel($<HTMLElement>("#session-panel"), $<HTMLElement>("#presence"));
  const speakerRoot = $<HTMLElement>("#speaker");
  const sayButtons = [...speakerRoot.querySelectorAll<HTMLButtonElement>("form.say button")];
  const controlButtons = [...speakerRoot.querySelectorAll<HTMLButtonElement>(".controls button")];
  let speakerPane: Pane | undefined; // read by refreshControls, which the panes call from their constructors
  let listenerPane: Pane | undefined;
  const listenerRoot = $<HTMLElement>("#listener");
  const listenerButtons = [...listenerRoot.querySelectorAll<HTMLButtonElement>(".react button, form.presence-data button")];

  const speaking = (sessionId: string): boolean => {
    const live = speakerPane?.live;
    return live?.state === "connected" && live.role === "speaker" && live.sessionId === sessionId;
  };
  const presence = new PresenceList($<HTMLElement>("#presence"), {
    canKick: speaking,
    kick: (member, ban, button) =>
      void speakerPane?.act(ban ? "kick (ban)" : "kick", button, (live) => live.kick(member.connectionId, { ban })).then((done) => {
        if (done) presence.removed(member.connectionId); // gone now: its presenceChanged may come a second later
      }),
  });
  const board = new ReactionsBoard($<HTMLElement>(".reactions", speakerRoot));
  // Each connection a pane makes: its members loaded on every join (a reconnect may have missed notices), kept
  // live from presenceChanged; reactions on the speaker's board.
  const opened = (pane: Pane, live: LiveSession): void => {
    if (pane.role === "speaker") board.clear();
    live.on("joined", () => void presence.load(live));
    live.on("presenceChanged", (event) => presence.apply(live.sessionId, event));
    if (pane.role === "speaker") live.on("reactions", (event) => board.add(event));
  };

  const refreshControls = (): void => {
    presence.refresh();
    const listening = listenerPane?.live?.state === "connected";
    for (const button of listenerButtons) button.disabled = !listening || button.getAttribute("aria-busy") === "true";
    const live = speakerPane?.live ?? null;
    const allowed = allowedControls(live);
    const busy = (button: HTMLButtonElement): boolean => button.getAttribute("aria-busy") === "true";
    for (const button of sayButtons) button.disabled = !allowed.say || busy(button);
    for (const button of controlButtons) button.disabled = !allowed[button.dataset["action"] as Control] || busy(button);
    const asListener = live?.state === "connected" && live.role === "listener";
    $<HTMLElement>(".role-note", speakerRoot).hidden = !asListener;
  };

  const artifacts = new ArtifactsPanel($<HTMLElement>("#artifacts"), {
    httpUrl: () => currentUrls().httpUrl,
    token: () => token,
    sessionId: () => panel.sessionId,
  });
  const artifactsChanged = (): void => void artifacts.refresh();
  const context = { urls: currentUrls, token: () => token, panel, changed: refreshControls, artifactsChanged, opened };
  const listener = (listenerPane = new Pane("listener", context));
  const speaker = (speakerPane = new Pane("speaker", context));
  refreshControls();

  $<HTMLFormElement>("#sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $<HTMLInputElement>("#token").value.trim() || undefined;
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    showSignedIn();
  });

  const createForm = $<HTMLFormElement>("#create");
  createForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const created = $<HTMLOutputElement>("#created");
    created.textContent = ""; // no answer of an earlier try stays beside the button
    delete created.dataset["problem"];
    const maxListeners = Number($<HTMLInputElement>("#max-listeners").value);
    const problem = Number.isInteger(maxListeners) && maxListeners >= 1 ? undefined : "max listeners: a whole number, 1 or more";
    hint(createForm, problem);
    if (problem) return;
    const api = new HttpApi({ httpUrl: currentUrls().httpUrl, token: () => token });
    const title = $<HTMLInputElement>("#title").value;
    const channels = parseChannels($<HTMLInputElement>("#channels").value);
    const body = { title, maxListeners, ...(channels.length > 0 ? { channels } : {}) };
    void whileBusy($<HTMLButtonElement>("button", createForm), () => api.createSession(body)).then(
      (session) => {
        created.textContent = session.sessionId;
        listener.sessionInput.value = speaker.sessionInput.value = session.sessionId;
        panel.showView(session);
        artifactsChanged();
      },
      (error: unknown) => {
        created.textContent = refusalRow("create", error).summary;
        created.dataset["problem"] = "true";
      },
    );
  });

  for (const form of speakerRoot.querySelectorAll<HTMLFormElement>("form.say")) {
    const input = $<HTMLInputElement>("input", form);
    input.addEventListener("input", () => hint(form));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value;
      const broadcast = form.dataset["action"] === "broadcast";
      const problem = isBlank(text) ? (broadcast ? "type something to broadcast" : "a message needs visible text") : undefined;
      hint(form, problem);
      if (problem) return;
      const channel = form.querySelector<HTMLSelectElement>("select.channel")?.value;
      const to = channel ? { channel } : {};
      const run = (live: LiveSession): Promise<unknown> => (broadcast ? live.broadcast(parseData(text), to) : live.sendMessage(text));
      void speaker.act(form.dataset["action"] ?? "", $<HTMLButtonElement>("button", form), run).then((sent) => {
        if (sent && input.value === text) input.value = ""; // a refused line stays, to be corrected
      });
    });
  }
  wireReactButtons(listenerRoot, () => listener.live);
  const presenceForm = $<HTMLFormElement>("form.presence-data", listenerRoot);
  presenceForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $<HTMLInputElement>("input", presenceForm).value;
    const problem = isBlank(text) ? 'type JSON such as {"hand": true} (null clears it)' : undefined;
    hint(presenceForm, problem);
    if (problem) return;
    void listener.act("setPresence", $<HTMLButtonElement>("button", presenceForm), (live) => live.setPresence(parseData(text)));
  });
  for (const button of controlButtons) {
    const action = button.dataset["action"] as Control;
    button.addEventListener("click", () => void speaker.act(action, button, (live) => live[action]()));
  }

  const session = params.get("session");
  if (session) listener.sessionInput.value = speaker.sessionInput.value = session;
  document.body.dataset["ready"] = "true";
  if (params.get("join") === "listener") await listener.join();
}

void main();
