/**
 * Which kind of page the memory queue's next chunk asks the kernel for: 4 KiB pages, or
 * transparent huge pages (madvise MADV_HUGEPAGE). Neither is cheaper everywhere, and by a factor
 * of two to seven either way: on one of this project's virtual machines a 4 KiB page cost
 * 13–15 µs and a huge page 0.3–9 µs per 4 KiB it covers; on another, 4 KiB pages cost 0.3 µs per
 * KiB and huge pages 0.6–2.2 µs per KiB while the queue kept growing (the host backs huge pages
 * slowly once the easy ones are gone), although a single huge page mapped and freed at once
 * looked cheap. So the choice is made by what populating each kind has cost lately, in use: the
 * cheaper kind by a running mean, and one chunk in EXPLORE_EVERY of the other kind, so a change
 * in the host's behaviour is noticed. Pure: the caller times and reports.
 */
export type PageKind = "small" | "huge";

/** One chunk in this many (512 MiB) tries the kind that looks dearer: when huge pages are the dear kind they cost up to 5× more, so this keeps the exploring under 7 %. */
export const EXPLORE_EVERY = 64;
/** Weight of the newest chunk in the running mean. */
const WEIGHT = 0.5;

export class PageKindChooser {
  private readonly msPerChunk: Record<PageKind, number> = { small: Number.NaN, huge: Number.NaN };
  private chunks = 0;

  /** `forced`: always that kind (CYCLOPS_MAP_SLABS=small or huge). */
  constructor(private readonly forced: PageKind | null = null) {}

  /** The kind of the next chunk. */
  next(): PageKind {
    if (this.forced !== null) return this.forced;
    this.chunks++;
    const { small, huge } = this.msPerChunk;
    if (Number.isNaN(small)) return "small";
    if (Number.isNaN(huge)) return "huge";
    const cheaper: PageKind = huge < small ? "huge" : "small";
    if (this.chunks % EXPLORE_EVERY !== 0) return cheaper;
    return cheaper === "huge" ? "small" : "huge";
  }

  /**
   * What populating a whole chunk of `kind` cost. A look at the dearer kind replaces its mean: the
   * mean is EXPLORE_EVERY chunks old, and the host may have changed since.
   */
  record(kind: PageKind, ms: number): void {
    const before = this.msPerChunk[kind];
    this.msPerChunk[kind] = Number.isNaN(before) || kind !== this.preferred ? ms : before + WEIGHT * (ms - before);
  }

  /** The kind most chunks get now (for logs and tests). */
  get preferred(): PageKind {
    if (this.forced !== null) return this.forced;
    const { small, huge } = this.msPerChunk;
    return huge < small ? "huge" : "small";
  }
}
