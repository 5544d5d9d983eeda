/**
 * The session's artifacts, through the client's `Artifacts`: signed in as the owner, every root artifact with its
 * state (as storage confirmed it), an upload with the presigned form, and sharing; otherwise (a listener), the
 * shared ones. Shared ones download through a short-lived link minted per click (never kept).
 * The list is read again after an upload, a share, and each `artifactUpdated` either pane receives.
 */

import { Artifacts, HttpApi, HttpError, type ArtifactView } from "../src/index.js";
import { $, element, hint, whileBusy } from "./dom.js";

export interface ArtifactsContext {
  httpUrl: () => string;
  token: () => string | undefined;
  sessionId: () => string | undefined;
}

function sizeText(bytes: unknown): string {
  if (typeof bytes !== "number") return "—";
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}

export class ArtifactsPanel {
  private readonly form: HTMLFormElement;
  private readonly list: HTMLTableSectionElement;
  private readonly status: HTMLElement;
  private reads = 0; // refreshes started: only the latest one started renders

  constructor(
    private readonly root: HTMLElement,
    private readonly context: ArtifactsContext,
  ) {
    this.form = $<HTMLFormElement>("form.upload", root);
    this.list = $<HTMLTableSectionElement>("tbody", root);
    this.status = $<HTMLElement>("[data-field=artifacts-status]", root);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.upload();
    });
    $<HTMLButtonElement>("button.refresh", root).addEventListener("click", () => void this.refresh());
  }

  private artifacts(withToken: boolean): Artifacts {
    const token = withToken ? this.context.token : undefined;
    return new Artifacts(new HttpApi({ httpUrl: this.context.httpUrl(), ...(token ? { token } : {}) }));
  }

  /** Reads the list again: the owner's (all roots) when the token is the owner's, else the shared ones. */
  async refresh(): Promise<void> {
    const sessionId = this.context.sessionId();
    if (!sessionId) return;
    // Reads overlap (an upload's own, an artifactUpdated's): one started earlier can answer later with an older
    // list (the upload's `pending` after the event's `completed`), so only the latest read started is shown.
    const read = ++this.reads;
    const latest = () => read === this.reads;
    let owner = this.context.token() !== undefined;
    let items: ArtifactView[];
    try {
      items = (await this.artifacts(owner).list(sessionId)).items;
    } catch (error) {
      if (!(error instanceof HttpError) || ![401, 403, 404].includes(error.status)) return latest() ? this.show(error) : undefined;
      owner = false; // not this session's owner: what it shares, as any listener sees it
      try {
        items = (await this.artifacts(false).list(sessionId, { shared: true })).items;
      } catch (shared) {
        return latest() ? this.show(shared) : undefined;
      }
    }
    if (latest()) this.render(sessionId, items, owner);
  }

  private async upload(): Promise<void> {
    const sessionId = this.context.sessionId();
    const file = $<HTMLInputElement>("input[type=file]", this.form).files?.[0];
    const problem = !sessionId ? "create or join a session first" : !file ? "choose a file to upload" : undefined;
    hint(this.form, problem);
    if (problem || !sessionId || !file) return;
    const kind = $<HTMLInputElement>("input.kind", this.form).value.trim();
    const artifacts = this.artifacts(true);
    await whileBusy($<HTMLButtonElement>("button[type=submit]", this.form), async () => {
      try {
        const created = await artifacts.create(sessionId, {
          kind,
          contentType: file.type || "application/octet-stream",
          fileName: file.name,
          sizeBytes: file.size,
        });
        await artifacts.upload(created, file);
      } catch (error) {
        hint(this.form, error instanceof Error ? error.message : String(error));
      }
    });
    await this.refresh();
  }

  private render(sessionId: string, items: ArtifactView[], owner: boolean): void {
    this.status.textContent = owner ? `${items.length} artifact(s), yours` : `${items.length} shared artifact(s)`;
    this.list.replaceChildren(
      ...items.map((artifact) => {
        const row = element("tr");
        row.dataset["status"] = artifact.status;
        row.dataset["testid"] = "artifact-row";
        const cells = [String(artifact["fileName"] ?? artifact.artifactId), String(artifact["kind"] ?? ""), artifact.status];
        for (const text of cells) row.append(element("td", { text }));
        row.append(element("td", { text: sizeText(artifact["sizeBytes"]) }));
        const actions = element("td");
        if (owner) {
          const shared = artifact["shared"] === true;
          const share = element("button", { text: shared ? "Unshare" : "Share" });
          share.type = "button";
          share.addEventListener("click", () => {
            void whileBusy(share, () => this.artifacts(true).update(sessionId, artifact.artifactId, { shared: !shared }))
              .then(() => this.refresh(), (error: unknown) => this.show(error));
          });
          actions.append(share);
        }
        if (artifact.status === "completed" && (artifact["shared"] === true || owner)) {
          const download = element("button", { text: "Download" });
          download.type = "button";
          download.addEventListener("click", () => {
            void this.artifacts(owner).downloadLink(sessionId, artifact.artifactId).then(
              (link) => void window.open(link.url, "_blank", "noopener"),
              (error: unknown) => this.show(error),
            );
          });
          actions.append(download);
        }
        row.append(actions);
        return row;
      }),
    );
  }

  private show(error: unknown): void {
    this.status.textContent = error instanceof Error ? error.message : String(error);
  }
}
