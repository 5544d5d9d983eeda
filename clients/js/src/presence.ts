/**
 * Presence, reactions and moderation (contract: "Presence and reactions", `kick`): the frames, and the checks
 * the client makes before it sends anything, so a bad name, an oversized `data` or a malformed reaction is
 * a ValidationError naming the field at once instead of a round trip (the server refuses the same).
 *
 * None of these frames is a stream event: no `seq`, never replayed, not ordered by the StreamOrderer.
 */

import { ValidationError } from "./errors.js";
import type { Role } from "./protocol.js";

/** Longest display name, in characters (code points). */
export const NAME_MAX_CHARS = 64;
/** Largest presence `data`, in bytes of its compact UTF-8 JSON (`JSON.stringify`'s own form). */
export const PRESENCE_DATA_MAX_BYTES = 1024;
/** Longest reaction word, in characters. */
export const REACTION_MAX_CHARS = 32;
/** Longest emoji reaction, in code points (a family or a flag is a sequence of several). */
export const REACTION_EMOJI_MAX_CHARS = 16;

/** A reaction word: 1 to 32 of `[a-z0-9_:+-]` (`clap`, `+1`, `hand:raised`). */
export const REACTION_WORD_PATTERN = /^[a-z0-9_:+-]{1,32}$/;
// An emoji as the server reads one: symbols, their modifiers (skin tones), combining marks (keycaps), the zero-width
// joiner and variation selectors; at least one symbol.
const REACTION_EMOJI_PATTERN = /^(?=.*\p{So})[\p{So}\p{Sk}\p{Mn}\p{Me}\u200d\ufe0e\ufe0f]{1,16}$/u;
// What Python's str.isprintable() refuses (the server's rule for names): control, format, surrogate, private-use
// and unassigned characters, and every separator but the ASCII space.
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]|(?! )\p{Zs}/u;

interface Answer {
  id?: string;
}

/** One connection as presence lists it (`userId` only for a signed-in connection). */
export interface PresenceMember {
  connectionId: string;
  role: Role;
  userId?: string;
  name?: string;
  /** The channel it is subscribed to; absent (or null) on the session's main stream. */
  channel?: string | null;
  joinedAt: number;
  /** What it set with `setPresence`. */
  data?: unknown;
}

/** The answer to `presence`: one page of members, the count of all, and the cursor of the next page. */
export interface PresenceEvent extends Answer {
  type: "presence";
  members: PresenceMember[];
  count: number;
  nextCursor: string | null;
}

/**
 * Who joined, left or changed their data since the last notice, conflated (at most one a second per
 * recipient; the state after the last change within 2 s). Past the server's `PRESENCE_MEMBERS_MAX`
 * connections a notice carries the counts only.
 */
export interface PresenceChangedEvent {
  type: "presenceChanged";
  joined?: PresenceMember[];
  /** Connection IDs. */
  left?: string[];
  updated?: PresenceMember[];
  /** The session's connections now (the speaker's included). */
  count: number;
  /** The listeners of each declared channel, by name. */
  channels: Record<string, number>;
}

/** Reactions added up since the last notice: each reaction and how many times it was sent, the earliest counted
 * (`from`) and when they were counted (`to`), epoch ms. At most one a second. */
export interface ReactionsEvent {
  type: "reactions";
  counts: Record<string, number>;
  from: number;
  to: number;
}

/** To a listener the speaker removed (the server then closes it; the client does not reconnect), and the
 * speaker's answer to `kick`. */
export interface KickedEvent extends Answer {
  type: "kicked";
  sessionId: string;
  /** The connection removed. */
  connectionId: string;
  /** Its user (or name) is also kept out of the session for its duration. */
  banned: boolean;
}

/** The answer to `setPresence`: this connection as presence now shows it. */
export interface PresenceSetEvent extends Answer {
  type: "presenceSet";
  member: PresenceMember;
}

/** The answer to a `react` that carried an `id`. */
export interface ReactedEvent extends Answer {
  type: "reacted";
  reaction: string;
}

export type PresenceFrame = PresenceEvent | PresenceChangedEvent | ReactionsEvent | KickedEvent | PresenceSetEvent | ReactedEvent;

/** The `presence` action's fields: a channel's members only (null: the main stream's), a page size, a page. */
export interface PresenceQuery {
  channel?: string | null;
  limit?: number;
  cursor?: string;
}

export interface KickOptions {
  /** Keep the kicked connection's user (or, anonymous, its name) out of the session for its duration. */
  ban?: boolean;
}

/** A display name as the server takes it: 1 to 64 printable characters, not only spaces. */
export function checkName(name: string): string {
  const length = [...name].length;
  if (length < 1 || length > NAME_MAX_CHARS) throw new ValidationError("name", `must be 1 to ${NAME_MAX_CHARS} characters (it has ${length})`);
  if (NOT_PRINTABLE.test(name)) throw new ValidationError("name", "must not contain control or other non-printable characters");
  if (name.trim() === "") throw new ValidationError("name", "must contain a visible character");
  return name;
}

/** Presence data as the server takes it: JSON, at most PRESENCE_DATA_MAX_BYTES encoded. */
export function checkPresenceData(data: unknown): unknown {
  let text: string | undefined;
  try {
    text = JSON.stringify(data, (_key, value: unknown) => {
      // JSON.stringify would quietly write null for these: the app meant a number the server cannot read.
      if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError(`${value} is not a JSON number`);
      return value;
    });
  } catch (error) {
    throw new ValidationError("data", `must be JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (text === undefined) throw new ValidationError("data", "must be JSON (undefined and functions are not)");
  const size = new TextEncoder().encode(text).length;
  if (size > PRESENCE_DATA_MAX_BYTES) throw new ValidationError("data", `is ${size} bytes as JSON; at most ${PRESENCE_DATA_MAX_BYTES}`);
  return data;
}

/** A reaction as the server takes it: an emoji (at most 16 code points), or 1 to 32 of `[a-z0-9_:+-]`. */
export function checkReaction(reaction: string): string {
  if (typeof reaction === "string" && (REACTION_WORD_PATTERN.test(reaction) || REACTION_EMOJI_PATTERN.test(reaction))) return reaction;
  throw new ValidationError("reaction", `must be an emoji or 1 to ${REACTION_MAX_CHARS} of [a-z0-9_:+-]`);
}

/** The `presence` action's fields as sent: those given, nothing undefined. */
export function presenceFields(query: PresenceQuery): PresenceQuery {
  const fields: PresenceQuery = {};
  if (query.channel !== undefined) fields.channel = query.channel;
  if (query.limit !== undefined) fields.limit = query.limit;
  if (query.cursor !== undefined) fields.cursor = query.cursor;
  return fields;
}

/** Every page of `presence`, from the first (or `query.cursor`) to the last, each asked for when wanted. */
export async function* presencePages(
  ask: (query: PresenceQuery) => Promise<PresenceEvent>,
  query: PresenceQuery = {},
): AsyncGenerator<PresenceEvent, void, undefined> {
  let cursor = query.cursor;
  do {
    const page = await ask({ ...query, ...(cursor !== undefined ? { cursor } : {}) });
    yield page;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}
