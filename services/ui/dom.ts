type Child = Node | string | number | null | undefined | false;
type AttributeValue = string | number | boolean | undefined | ((event: Event) => void);

/**
 * An element with attributes and children: `onclick`-style keys become
 * listeners, `true` an empty attribute, `false`/undefined nothing. No inline
 * styles: the content security policy forbids them.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, AttributeValue> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== undefined && value !== false) element.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) element.append(typeof child === 'number' ? String(child) : child);
  }
  return element;
}

/** Bytes as people read them: 1.5 KiB. */
export function formatBytes(bytes: number | bigint): string {
  let value = Number(bytes);
  for (const unit of ['B', 'KiB', 'MiB', 'GiB']) {
    if (value < 1024 || unit === 'GiB') return unit === 'B' ? `${value} B` : `${value.toFixed(1)} ${unit}`;
    value /= 1024;
  }
  return `${value} B`;
}

/** A timestamp as local date and time, "—" when there is none. */
export function formatTime(date: Date | undefined): string {
  return date === undefined ? '—' : date.toLocaleString(undefined, { hour12: false });
}
