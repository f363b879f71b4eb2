// Small DOM helpers. Every value from AWS or Airflow (status reasons, DAG ids, job names) goes into the
// page as a text node or an attribute, never as HTML, so no answer can inject markup.

export type Child = Node | string | null | undefined | false;

export function el(
  tag: string,
  attrs: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElement {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

export function link(href: string, text: string, attrs: Record<string, string> = {}): HTMLElement {
  return el("a", { href, rel: "noopener noreferrer", ...attrs }, text);
}

export function replace(target: HTMLElement, ...children: Child[]): void {
  target.replaceChildren();
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    target.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  if (value < 90) return `${Math.round(value)} s`;
  if (value < 5400) return `${Math.round(value / 60)} min`;
  return `${(value / 3600).toFixed(1)} h`;
}

export function clock(ms: number | null | undefined): string {
  if (!ms) return "–";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}
