/** The console's small DOM helpers: find an element or fail loudly, build one, and a button's busy state. */

export const $ = <T extends Element>(selector: string, root: ParentNode = document): T => {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`the page has no ${selector}`);
  return found;
};

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; title?: string } = {},
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag);
  if (props.className) made.className = props.className;
  if (props.text !== undefined) made.textContent = props.text;
  if (props.title !== undefined) made.title = props.title;
  made.append(...children);
  return made;
}

/**
 * Runs `work` with `button` busy (disabled, `aria-busy`) until it settles, so a slow answer cannot be asked
 * for twice. `after` runs once it is free again: a button whose enabled state follows the session's (the
 * speaker's controls) decides there whether it stays enabled.
 */
export async function whileBusy<T>(button: HTMLButtonElement, work: () => Promise<T>, after?: () => void): Promise<T> {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.removeAttribute("aria-busy");
    button.disabled = false;
    after?.();
  }
}

/** Says what is wrong with an input next to it (`hint` elements), or clears it (`message` empty). */
export function hint(form: HTMLElement, message = ""): void {
  const slot = $<HTMLElement>(".hint", form);
  slot.textContent = message;
  slot.hidden = message === "";
}
