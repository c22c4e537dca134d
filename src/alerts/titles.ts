/**
 * What an operator recognizes a flooding error by: its title (as Sentry shows it: exception
 * type and value, else the message), and the most frequent titles of one project's drops.
 * Computed only for dropped reports, from the event ingest already parsed for the flood cut.
 */

/** Longest title kept; titles are client text and are escaped wherever they are shown. */
export const MAX_TITLE = 200;

const str = (v: unknown): string | null => (typeof v === "string" && v.length > 0 ? v : null);

/** The event's title: `Type: value` of its last exception, else its message; null when it has none. */
export function eventTitle(event: Record<string, unknown> | null): string | null {
  if (!event) return null;
  let title: string | null = null;
  const exception = event.exception as { values?: unknown } | unknown[] | undefined;
  const values = Array.isArray(exception) ? exception : (exception as { values?: unknown } | undefined)?.values;
  if (Array.isArray(values) && values.length > 0) {
    const last = values[values.length - 1] as { type?: unknown; value?: unknown } | null;
    const type = str(last?.type);
    const value = str(last?.value);
    title = type && value ? `${type}: ${value}` : (type ?? value);
  }
  if (!title) {
    const logentry = (event.logentry ?? event["sentry.interfaces.Message"]) as { formatted?: unknown; message?: unknown } | undefined;
    const message = event.message as unknown;
    title = str(message) ?? str((message as { formatted?: unknown } | undefined)?.formatted) ?? str(logentry?.formatted) ?? str(logentry?.message);
  }
  if (!title) return null;
  const newline = title.indexOf("\n");
  const line = newline < 0 ? title : title.slice(0, newline);
  return line.length > MAX_TITLE ? `${line.slice(0, MAX_TITLE - 1)}…` : line;
}

export interface TitleCount {
  title: string;
  count: number;
}

/**
 * The most frequent titles in bounded memory (the Space-Saving algorithm): at most `capacity`
 * titles are counted; a new title takes the place of the least counted one and inherits its
 * count, so a title that floods is always among them and its count is over by at most the
 * count it inherited.
 */
export class TopTitles {
  private readonly counts = new Map<string, number>();

  constructor(private readonly capacity = 20) {}

  add(title: string, n = 1): void {
    const current = this.counts.get(title);
    if (current !== undefined) {
      this.counts.set(title, current + n);
      return;
    }
    if (this.counts.size < this.capacity) {
      this.counts.set(title, n);
      return;
    }
    let minTitle = "";
    let min = Infinity;
    for (const [t, c] of this.counts) {
      if (c < min) [minTitle, min] = [t, c];
    }
    this.counts.delete(minTitle);
    this.counts.set(title, min + n);
  }

  top(k = 5): TitleCount[] {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([title, count]) => ({ title, count }));
  }

  get size(): number {
    return this.counts.size;
  }
}
