/**
 * Asks the JavaScript engine for a young-generation collection every so many requests (not the
 * forwarder's pacer, which spaces requests to Sentry).
 *
 * Why: JavaScriptCore sizes the allocation it allows between collections by the size of the
 * heap, and the heap it counts includes the ArrayBuffers the memory queue keeps its reports in.
 * With 100,000 reports queued (≈ 240 MB of slabs) it let ≈ 100 MB of request garbage (Request
 * and Response objects, headers, strings: about 1 KB a request) pile up before collecting,
 * measured with BUN_JSC_logGC=1. Because cyclops keeps freed pages for speed
 * (src/cli/allocator.ts), that high-water mark stayed resident: about 1,000 bytes per queued
 * report on top of the report itself. A young collection only visits what was allocated since
 * the previous one, so asking for one every thousand requests (ingest.ts) costs little and caps the pile
 * at a few megabytes whatever the queue holds.
 */
export class GcSchedule {
  private untilNext: number;

  constructor(
    private readonly every: number,
    private readonly collect: () => void = () => Bun.gc(false),
  ) {
    this.untilNext = every;
  }

  /** Counts one request; every `every`-th asks for a collection. */
  tick(): void {
    if (--this.untilNext > 0) return;
    this.untilNext = this.every;
    this.collect();
  }
}
