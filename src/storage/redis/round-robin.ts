/**
 * The farm-wide round-robin over projects, now that each project's queue is its own script run:
 * which projects a take asks for how many items, and the order the answers are served in.
 */

/**
 * Splits `remaining` items over `candidates` (in turn order): as evenly as possible when there
 * are enough to give each project one, else one each to the first `remaining`.
 */
export function shares(candidates: readonly number[], remaining: number): [projectId: number, max: number][] {
  if (remaining < candidates.length) return candidates.slice(0, remaining).map((p) => [p, 1]);
  const base = Math.floor(remaining / candidates.length);
  const extra = remaining % candidates.length;
  return candidates.map((p, i) => [p, base + (i < extra ? 1 : 0)]);
}

/** `ids` sorted, starting at position `turn` (mod length): each take starts one project later. */
export function rotate(ids: readonly number[], turn: number): number[] {
  const sorted = [...ids].sort((a, b) => a - b);
  const at = sorted.length === 0 ? 0 : turn % sorted.length;
  return [...sorted.slice(at), ...sorted.slice(0, at)];
}

/** One item of each project in turn, then the next of each: round-robin order. */
export function interleave<T>(lists: readonly T[][]): T[] {
  const out: T[] = [];
  for (let i = 0; ; i++) {
    let any = false;
    for (const list of lists) {
      if (i < list.length) {
        out.push(list[i]!);
        any = true;
      }
    }
    if (!any) return out;
  }
}

/**
 * Leases up to `max` items round the `candidates` (in turn order): asks each its share at once,
 * then asks again those that gave all they were asked (they may have more) and those not asked
 * yet, until `max` or nobody has more. Served in round-robin order.
 */
export async function takeRoundRobin<T>(candidates: number[], max: number, takeFrom: (projectId: number, max: number) => Promise<T[]>): Promise<T[]> {
  const taken = new Map<number, T[]>();
  let remaining = max;
  while (remaining > 0 && candidates.length > 0) {
    const asks = shares(candidates, remaining);
    const replies = await Promise.all(asks.map(([p, n]) => takeFrom(p, n)));
    const next = candidates.slice(asks.length);
    asks.forEach(([p, n], i) => {
      const got = replies[i]!;
      if (got.length === 0) return;
      taken.set(p, [...(taken.get(p) ?? []), ...got]);
      remaining -= got.length;
      if (got.length === n) next.push(p);
    });
    candidates = next;
  }
  return interleave([...taken.values()]);
}
