/**
 * The WebSocket protocol as this client declares it: every action it sends, every frame it receives.
 *
 * The server's models are the source of truth (`GET /asyncapi.json`, generated from them). `ACTIONS` and
 * `EVENTS` below list each message's name and required fields; test/protocol.test.ts compares them with the
 * served document, so a rename or a new required field on either side fails `make test`.
 */

import type {
  KickedEvent,
  PresenceChangedEvent,
  PresenceEvent,
  PresenceQuery,
  PresenceSetEvent,
  ReactedEvent,
  ReactionsEvent,
} from "./presence.js";

/**
 * The protocol version this client declares on the connect URL (`&v=3`): it understands `batch` frames and
 * `joined.missing` (2), and the pushed presence frames `presenceChanged`, `reactions`, `kicked` (3). The server
 * sends a frame kind newer than a client's version never to that client.
 */
export const PROTOCOL_VERSION = 3;

export type Role = "speaker" | "listener";
export type SessionStatus = "active" | "paused" | "ended";

/** `GET /sessions/{id}` and the `session` of `joined` / `sessionUpdated` / `sessionEnded`. */
export interface SessionView {
  sessionId: string;
  title: string;
  status: SessionStatus;
  listenerCount: number;
  muted: boolean;
  createdAt: number;
  /** The seq of the session's latest stream event (0 before any). */
  seq: number;
  /** The stream's epoch: a saved `seq` means something only with the same epoch. */
  epoch: string;
  maxListeners: number;
  /** The session's channels in declared order, each with its listeners (`[]` when it declares none). */
  channels: ChannelCount[];
  /** The owner's view adds more (ownerId, sourceLanguage, updatedAt, ...). */
  [field: string]: unknown;
}

/** A channel of the session and how many listeners are on it. */
export interface ChannelCount {
  name: string;
  listenerCount: number;
}

export interface MessageView {
  messageId: string;
  sessionId: string;
  text: string;
  createdAt: number;
  [field: string]: unknown;
}

export interface ArtifactView {
  artifactId: string;
  sessionId: string;
  status: "pending" | "processing" | "completed" | "failed";
  [field: string]: unknown;
}

/** The answer to an action carries the action's `id` when the action had one. */
interface Answer {
  id?: string;
}

// -- stream events: pushed because the session changed; each carries the session's gap-free `seq` ----------

export interface BroadcastEvent extends Answer {
  type: "broadcast";
  data: unknown;
  ts: number;
  /** Its place in the session's stream, or with `channel` in that channel's own stream. */
  seq: number;
  /** A channel's event (to its listeners only); absent: a session-wide one. */
  channel?: string;
}

export interface MessageEvent extends Answer, MessageView {
  type: "message";
  seq: number;
}

export interface SessionUpdatedEvent extends Answer {
  type: "sessionUpdated";
  session: SessionView;
  seq: number;
}

export interface SessionEndedEvent extends Answer {
  type: "sessionEnded";
  session: SessionView;
  seq: number;
}

export interface ArtifactUpdatedEvent extends Answer {
  type: "artifactUpdated";
  artifact: ArtifactView;
  seq: number;
}

export type StreamEvent = BroadcastEvent | MessageEvent | SessionUpdatedEvent | SessionEndedEvent | ArtifactUpdatedEvent;

// -- per-connection frames: answers and notices, no stream seq ------------------------------------------------

export interface JoinedEvent extends Answer {
  type: "joined";
  role: Role;
  session: SessionView;
  connectionId: string;
  /** Present when the join asked to resume (`sinceSeq`): true when every missed event follows. */
  recovered?: boolean;
  /** (v2) Seqs of the replayed range that will never come (claimed by a writer that died): skipped, not waited for. */
  missing?: number[];
  /** When the connection is on a channel: that channel's stream position as of this answer. */
  channelStream?: ChannelStreamPosition;
}

export interface ChannelStreamPosition {
  channel: string;
  seq: number;
}

/** The answer to `subscribe` (also pushed with `channel: null` when the session stopped offering the connection's
 * channel): from here on every event of `channel` after `seq`, none of the old channel's. */
export interface SubscribedEvent extends Answer {
  type: "subscribed";
  channel: string | null;
  seq: number;
  epoch: string;
}

export interface PongEvent extends Answer {
  type: "pong";
  ts: number;
}

export interface HistoryEvent extends Answer {
  type: "history";
  items: MessageView[];
  nextCursor: string | null;
}

export interface BroadcastSentEvent extends Answer {
  type: "broadcastSent";
  seq: number;
  ts: number;
  delivered: number;
  /** The channel whose stream it went to (`seq` is there); absent: the session's stream. */
  channel?: string;
}

export interface ListenerCountEvent extends Answer {
  type: "listenerCount";
  sessionId: string;
  listenerCount: number;
  /** When the session declares channels: the listeners of each, by name. */
  channels?: Record<string, number>;
}

export interface SpeakerDisconnectedEvent extends Answer {
  type: "speakerDisconnected";
  sessionId: string;
}

export interface ErrorEvent extends Answer {
  type: "error";
  code: string;
  message: string;
  /** VALIDATION_ERROR: the field at fault. */
  field?: string;
  /** INVALID_TRANSITION: the state the session was in, and the one asked for. */
  from?: string;
  to?: string;
  /** RATE_LIMITED, SERVICE_UNAVAILABLE: when to try again. */
  retryAfterMs?: number;
  /** INVALID_ACTION: what may be sent. */
  validActions?: string[];
}

export type ServerEvent =
  | StreamEvent
  | JoinedEvent
  | PongEvent
  | HistoryEvent
  | BroadcastSentEvent
  | ListenerCountEvent
  | SubscribedEvent
  | SpeakerDisconnectedEvent
  | ErrorEvent
  | PresenceEvent
  | PresenceChangedEvent
  | ReactionsEvent
  | KickedEvent
  | PresenceSetEvent
  | ReactedEvent;

export type ServerEventType = ServerEvent["type"];

/**
 * (v2) Several events for this connection in one frame (a batch publish, a recovery replay), each exactly as
 * it would travel alone, in `seq` order. The client unpacks it: the app never sees a `batch`, only its events.
 */
export interface BatchFrame {
  type: "batch";
  events: ServerEvent[];
}

/** What arrives on the socket: an event, or a batch of them. */
export type ServerFrame = ServerEvent | BatchFrame;
export type EventOf<T extends ServerEventType> = Extract<ServerEvent, { type: T }>;

// -- actions: client -> server ----------------------------------------------------------------------------------

export interface ActionFields {
  join: { sinceSeq?: number; epoch?: string; channel?: string | null; channelSinceSeq?: number; name?: string };
  subscribe: { channel: string | null };
  ping: Record<never, never>;
  history: { since?: number; limit?: number; cursor?: string };
  broadcast: { data: unknown; channel?: string };
  sendMessage: { text: string };
  pause: Record<never, never>;
  resume: Record<never, never>;
  mute: Record<never, never>;
  unmute: Record<never, never>;
  end: Record<never, never>;
  presence: PresenceQuery;
  setPresence: { data: unknown };
  react: { reaction: string };
  kick: { connectionId: string; ban?: boolean };
}

export type ActionName = keyof ActionFields;
export type ActionFrame<A extends ActionName> = { action: A; id?: string } & ActionFields[A];

/** The answer each action gets on success (an `error` frame otherwise). */
export interface ActionAnswers {
  join: JoinedEvent;
  subscribe: SubscribedEvent;
  ping: PongEvent;
  history: HistoryEvent;
  broadcast: BroadcastSentEvent;
  sendMessage: MessageEvent;
  pause: SessionUpdatedEvent;
  resume: SessionUpdatedEvent;
  mute: SessionUpdatedEvent;
  unmute: SessionUpdatedEvent;
  end: SessionEndedEvent;
  presence: PresenceEvent;
  setPresence: PresenceSetEvent;
  react: ReactedEvent;
  kick: KickedEvent;
}

// -- the declared table the drift test compares with the server's document --------------------------------------

// The named (not index-signature) keys of T that are not optional.
type KnownKeys<T> = keyof { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };
type RequiredKeys<T> = { [K in KnownKeys<T>]-?: object extends Pick<T, K> ? never : K }[KnownKeys<T>];
type OptionalKeys<T> = Exclude<KnownKeys<T>, RequiredKeys<T>>;

/** Every action and the fields it must carry (the compiler checks each is a required field of its type). */
export const ACTIONS: { readonly [A in ActionName]: readonly RequiredKeys<ActionFrame<A>>[] } = {
  join: ["action"],
  subscribe: ["action", "channel"],
  ping: ["action"],
  history: ["action"],
  broadcast: ["action", "data"],
  sendMessage: ["action", "text"],
  pause: ["action"],
  resume: ["action"],
  mute: ["action"],
  unmute: ["action"],
  end: ["action"],
  presence: ["action"],
  setPresence: ["action", "data"],
  react: ["action", "reaction"],
  kick: ["action", "connectionId"],
};

/** Every frame the server sends and the fields this client relies on being there. */
export const EVENTS: { readonly [T in ServerEventType]: readonly RequiredKeys<EventOf<T>>[] } = {
  joined: ["type", "role", "session", "connectionId"],
  pong: ["type", "ts"],
  history: ["type", "items", "nextCursor"],
  broadcastSent: ["type", "seq", "ts", "delivered"],
  broadcast: ["type", "data", "ts", "seq"],
  message: ["type", "seq", "messageId", "sessionId", "text", "createdAt"],
  sessionUpdated: ["type", "session", "seq"],
  sessionEnded: ["type", "session", "seq"],
  artifactUpdated: ["type", "artifact", "seq"],
  listenerCount: ["type", "sessionId", "listenerCount"],
  subscribed: ["type", "channel", "seq", "epoch"],
  speakerDisconnected: ["type", "sessionId"],
  error: ["type", "code", "message"],
  presence: ["type", "members", "count", "nextCursor"],
  reactions: ["type", "counts", "from", "to"],
  presenceChanged: ["type", "count", "channels"],
  kicked: ["type", "sessionId", "connectionId", "banned"],
  presenceSet: ["type", "member"],
  reacted: ["type", "reaction"],
};

/** Every optional field of each action (the server's frames allow no others). */
export const ACTION_OPTIONAL: { readonly [A in ActionName]: readonly OptionalKeys<ActionFrame<A>>[] } = {
  join: ["id", "sinceSeq", "epoch", "channel", "channelSinceSeq", "name"],
  subscribe: ["id"],
  ping: ["id"],
  history: ["id", "since", "limit", "cursor"],
  broadcast: ["id", "channel"],
  sendMessage: ["id"],
  pause: ["id"],
  resume: ["id"],
  mute: ["id"],
  unmute: ["id"],
  end: ["id"],
  presence: ["id", "channel", "limit", "cursor"],
  setPresence: ["id"],
  react: ["id"],
  kick: ["id", "ban"],
};

/**
 * What protocol version 2 adds, declared here so the drift test can hold the server to it once the server
 * declares it too (until then the server does not send it, and the test says so): new frames with their
 * required fields, and new optional fields of existing events.
 */
export const V2_FRAMES: { readonly batch: readonly RequiredKeys<BatchFrame>[] } = { batch: ["type", "events"] };
export const V2_OPTIONAL: { readonly joined: readonly OptionalKeys<JoinedEvent>[] } = { joined: ["missing"] };

/** Every optional field of each server frame (`id`: the answered action's). */
export const EVENT_OPTIONAL: { readonly [T in ServerEventType]: readonly OptionalKeys<EventOf<T>>[] } = {
  joined: ["id", "recovered", "channelStream"],
  pong: ["id"],
  history: ["id"],
  broadcastSent: ["id", "channel"],
  broadcast: ["id", "channel"],
  message: ["id"],
  sessionUpdated: ["id"],
  sessionEnded: ["id"],
  artifactUpdated: ["id"],
  listenerCount: ["id", "channels"],
  subscribed: ["id"],
  speakerDisconnected: ["id"],
  error: ["id", "field", "from", "to", "retryAfterMs", "validActions"],
  presence: ["id"],
  presenceChanged: ["joined", "left", "updated"],
  reactions: [],
  kicked: ["id"],
  presenceSet: ["id"],
  reacted: ["id"],
};

/**
 * Frames (`presence`, ...) and fields (`join.name`) this client declares ahead of the server's document: each may
 * be absent from `/asyncapi.json` until the server declares it, and is held to the server's declaration from then
 * on (test/protocol.test.ts). None now: the server declares presence, reactions and `kick` (protocol version 3).
 */
export const AHEAD_OF_SERVER: ReadonlySet<string> = new Set<string>([]);

/** The public session view's fields this client reads (seq/epoch for resume, maxListeners for SESSION_FULL). */
export const SESSION_VIEW_FIELDS: readonly RequiredKeys<SessionView>[] = [
  "sessionId",
  "title",
  "status",
  "listenerCount",
  "muted",
  "createdAt",
  "seq",
  "epoch",
  "maxListeners",
  "channels",
];

const STREAM_TYPES: ReadonlySet<string> = new Set<StreamEvent["type"]>([
  "broadcast",
  "message",
  "sessionUpdated",
  "sessionEnded",
  "artifactUpdated",
]);

export function isStreamEvent(event: ServerEvent): event is StreamEvent {
  return STREAM_TYPES.has(event.type) && typeof (event as { seq?: unknown }).seq === "number";
}

/** A client request ID, as the server accepts it. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
/** A channel's name, as sessions declare them (the contract's "Channels"). */
export const CHANNEL_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,31}$/;
/** `adjective-noun-NNN` (session_schema/ids.py). */
export const SESSION_ID_PATTERN = /^[a-z]{3,8}-[a-z]{3,8}-[0-9]{3}$/;
