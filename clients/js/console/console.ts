/**
 * The console page: sign in with a token, create a session, listen and speak side by side, and watch
 * every event as it arrives. It is also the example of a listener app: all it needs is `LiveSession`
 * (connect, `on(...)`, the actions) and `HttpApi` (create a session).
 *
 * URL parameters (all optional): `http` and `ws` (the APIs; default: what the local stack's config.json says),
 * `session` (fills both panes), `join=listener` (joins at once), `token` (signs in).
 */

import { HttpApi, LiveSession, LiveSessionError, type ServerEvent } from "../src/index.js";

interface Config {
  httpUrl: string;
  wsUrl: string;
}

const params = new URLSearchParams(location.search);
const $ = <T extends Element>(selector: string, root: ParentNode = document): T => {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`the page has no ${selector}`);
  return found;
};

let token: string | undefined = params.get("token") ?? sessionStorage.getItem("live-sessions-token") ?? undefined;

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

function currentConfig(): Config {
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
  const who = $<HTMLElement>("#who");
  who.textContent = token ? `signed in as ${tokenSubject(token) ?? "(unreadable token)"}` : "not signed in (listeners need no token)";
}

function describe(event: ServerEvent): string {
  const { type, ...rest } = event;
  return `${type} ${JSON.stringify(rest)}`;
}

/** One pane: a LiveSession (listener or speaker) with its join form, state badge and event log. */
class Pane {
  live: LiveSession | null = null;
  readonly root: HTMLElement;
  private readonly log: HTMLOListElement;
  private readonly state: HTMLElement;

  constructor(readonly role: "listener" | "speaker") {
    this.root = $<HTMLElement>(`#${role}`);
    this.log = $<HTMLOListElement>(".log", this.root);
    this.state = $<HTMLElement>(".state", this.root);
    $<HTMLFormElement>(".join", this.root).addEventListener("submit", (event) => {
      event.preventDefault();
      void this.join();
    });
    $<HTMLButtonElement>(".leave", this.root).addEventListener("click", () => this.live?.close());
  }

  get sessionInput(): HTMLInputElement {
    return $<HTMLInputElement>(".session-id", this.root);
  }

  write(text: string, problem = false): void {
    const item = document.createElement("li");
    item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
    if (problem) item.className = "problem";
    this.log.prepend(item);
  }

  async join(): Promise<void> {
    this.live?.close();
    const sessionId = this.sessionInput.value.trim();
    const { httpUrl, wsUrl } = currentConfig();
    const live = new LiveSession({
      httpUrl,
      wsUrl,
      sessionId,
      // A listener joins anonymously; the speaker pane sends the owner's token.
      ...(this.role === "speaker" ? { token: () => token } : {}),
    });
    this.live = live;
    live.on("state", (change) => {
      this.state.textContent = change.retryInMs !== undefined ? `${change.state} (next try in ${Math.round(change.retryInMs)} ms)` : change.state;
      this.state.dataset["state"] = change.state;
      if (change.error) this.write(`${change.state}: ${change.error.message}`, true);
    });
    live.on("event", (event) => this.write(describe(event), event.type === "error"));
    live.on("reset", (reset) => this.write(`reset (${reset.reason}): start again from seq ${reset.session.seq}`, true));
    live.on("broadcast", (event) => {
      $<HTMLOutputElement>(".last output", this.root).textContent =
        typeof event.data === "string" ? event.data : JSON.stringify(event.data);
    });
    try {
      await live.connect();
    } catch (error) {
      this.write(`join refused: ${error instanceof LiveSessionError ? error.message : String(error)}`, true);
    }
  }

  /** Runs one of the speaker's actions; its answer shows in the log as an event, a refusal as a problem. */
  async act(run: (live: LiveSession) => Promise<unknown>): Promise<void> {
    if (!this.live) return this.write("join first", true);
    try {
      await run(this.live);
    } catch (error) {
      this.write(error instanceof LiveSessionError ? error.message : String(error), true);
    }
  }
}

function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text; // plain text is broadcast as a JSON string
  }
}

async function main(): Promise<void> {
  const config = await loadConfig();
  $<HTMLInputElement>("#http-url").value = config.httpUrl;
  $<HTMLInputElement>("#ws-url").value = config.wsUrl;
  showSignedIn();

  const listener = new Pane("listener");
  const speaker = new Pane("speaker");

  $<HTMLFormElement>("#sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $<HTMLInputElement>("#token").value.trim() || undefined;
    if (token) sessionStorage.setItem("live-sessions-token", token);
    else sessionStorage.removeItem("live-sessions-token");
    showSignedIn();
  });

  $<HTMLFormElement>("#create").addEventListener("submit", (event) => {
    event.preventDefault();
    const api = new HttpApi({ httpUrl: currentConfig().httpUrl, token: () => token });
    const created = $<HTMLElement>("#created");
    api
      .createSession({
        title: $<HTMLInputElement>("#title").value,
        maxListeners: Number($<HTMLInputElement>("#max-listeners").value),
      })
      .then((session) => {
        created.textContent = session.sessionId;
        listener.sessionInput.value = speaker.sessionInput.value = session.sessionId;
      })
      .catch((error: unknown) => {
        created.textContent = error instanceof LiveSessionError ? error.message : String(error);
      });
  });

  for (const form of speaker.root.querySelectorAll<HTMLFormElement>("form.say")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $<HTMLInputElement>("input", form);
      const text = input.value;
      void speaker.act((live) => (form.dataset["action"] === "broadcast" ? live.broadcast(parseData(text)) : live.sendMessage(text)));
      input.value = "";
    });
  }
  for (const button of speaker.root.querySelectorAll<HTMLButtonElement>(".controls button")) {
    const action = button.dataset["action"] as "pause" | "resume" | "mute" | "unmute" | "end";
    button.addEventListener("click", () => void speaker.act((live) => live[action]()));
  }

  const session = params.get("session");
  if (session) listener.sessionInput.value = speaker.sessionInput.value = session;
  document.body.dataset["ready"] = "true";
  if (params.get("join") === "listener") await listener.join();
}

void main();
