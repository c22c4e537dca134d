/**
 * Which spike lane a report's data category is counted in. Sentry counts error, default and
 * security events together as errors (its error quota); every other category it limits is its own
 * lane. Categories are a fixed list, so a lane is an index into a small array per project and the
 * per-report lookup allocates nothing.
 */

/** Lane names, in index order; the first is the error lane. */
export const LANES = ["error", "transaction", "span", "attachment", "profile", "profile_chunk", "replay", "feedback", "log_item", "trace_metric", "metric_bucket"] as const;
export type LaneName = (typeof LANES)[number];
export const ERROR_LANE = 0;
/** Not limited: no lane. */
export const NO_LANE = -1;

/** The Sentry categories each lane stands for, as X-Sentry-Rate-Limits names them. */
export const LANE_CATEGORIES: readonly string[] = LANES.map((lane) => (lane === "error" ? "error;default;security" : lane));

const LANE_OF = new Map<string, number>();
LANES.forEach((lane, i) => LANE_OF.set(lane, i));
LANE_OF.set("default", ERROR_LANE);
LANE_OF.set("security", ERROR_LANE);
/**
 * Never limited: client reports (`internal`) are the accounting itself; sessions are release
 * health (a dropped session falsifies crash-free rates, and SDKs already aggregate them); a dropped
 * cron check-in (`monitor`) would raise a false missed-check-in alert.
 */
for (const exempt of ["internal", "session", "monitor"]) LANE_OF.set(exempt, NO_LANE);

/**
 * The lane of a category name. A name Sentry does not know is counted with errors, as Relay counts
 * an item type it does not know (`default`), so an unknown name can neither escape the limit nor
 * grow the state.
 */
export function laneOf(category: string): number {
  const lane = LANE_OF.get(category);
  return lane === undefined ? ERROR_LANE : lane;
}
