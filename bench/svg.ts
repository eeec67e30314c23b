// Plain-SVG helpers shared by the plots of bench/ (bench/plot.ts) and bench/tunnel/ (bench/tunnel/svg.ts):
// no plotting dependency, the documents are written as text.

/** Escapes text for SVG element content and attribute values. */
export const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** 1, 2, 2.5, 5 × 10^k at or above x. */
export function niceCeil(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const f of [1, 2, 2.5, 5, 10]) if (f * p >= x) return f * p;
  return 10 * p;
}

/** Three significant digits or so, for tick and value labels. */
export const num = (v: number) =>
  v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3);

/** Coordinates rounded to 0.1 px: short files, and no 1e-15 noise in the diffs. */
export const px = (v: number) => String(Math.round(v * 10) / 10);
