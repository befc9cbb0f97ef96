/** Pure checks on the memory scenario's figures. */
/** A warning when some process shrank by more than 10% of the total growth (or 5 MB). */
export function shrinkWarning(
  processes: readonly { readonly name: string; readonly beforeKb: number; readonly afterKb: number }[],
  growthKb: number,
): string | undefined {
  const limit = Math.max(5 * 1024, Math.abs(growthKb) * 0.1);
  const shrunk = processes.filter((p) => p.beforeKb - p.afterKb > limit);
  if (shrunk.length === 0) return undefined;
  const list = shrunk.map((p) => `${p.name} ${Math.round((p.afterKb - p.beforeKb) / 1024)} MiB`).join(', ');
  return `RSS of ${list} fell meanwhile (garbage collection): the per-session figure is rough`;
}
