// A small horizontal bar chart in plain SVG (no plotting dependency): one panel per mode, one bar
// per path (the median), a whisker from the smallest to the largest repetition. Linear axes; the
// ceiling rows (plain veth, UML without ESP) would squash every tunnel into a sliver, so the axis
// ends at the largest tunnel value and a longer bar is cut with a break mark and its value written.
import { esc, niceCeil, num } from "../svg.ts";

export interface Bar {
  label: string;
  median: number | null;
  min: number;
  max: number;
  ceiling: boolean;
  missing?: string;
}
export interface Panel {
  title: string;
  unit: string;
  bars: Bar[];
}

/** One SVG document: panels side by side, labels on the left of the first one. */
export function barChart(title: string, subtitle: string, panels: Panel[]): string {
  const rows = panels[0]?.bars.length ?? 0;
  const longest = Math.max(0, ...(panels[0]?.bars.map((b) => b.label.length) ?? []));
  const labelW = Math.max(160, Math.round(longest * 7.2) + 20),
    panelW = 230,
    gap = 44,
    rowH = 22,
    top = 70,
    bottom = 34;
  const width = labelW + panels.length * (panelW + gap),
    height = top + rows * rowH + bottom;
  const o: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="38" fill="#555">${esc(subtitle)}</text>`,
  ];
  panels[0]?.bars.forEach((b, i) => {
    const y = top + i * rowH + rowH / 2 + 4;
    o.push(
      `<text x="${labelW - 8}" y="${y}" text-anchor="end"${b.ceiling ? ' fill="#666"' : ""}>${esc(b.label)}</text>`,
    );
  });
  panels.forEach((p, k) => {
    const x0 = labelW + k * (panelW + gap);
    const tunnels = p.bars.filter((b) => !b.ceiling && b.median !== null).map((b) => Math.max(b.max, b.median!));
    const all = p.bars.filter((b) => b.median !== null).map((b) => Math.max(b.max, b.median!));
    const axis = niceCeil(Math.max(...(tunnels.length ? tunnels : all), 0));
    const sx = (v: number) => x0 + (Math.min(v, axis) / axis) * panelW;
    o.push(`<text x="${x0}" y="${top - 22}" font-weight="bold">${esc(p.title)}</text>`);
    for (let t = 0; t <= 4; t++) {
      const v = (axis * t) / 4,
        x = sx(v);
      o.push(`<line x1="${x}" y1="${top - 6}" x2="${x}" y2="${top + rows * rowH}" stroke="#e3e3e3"/>`);
      o.push(
        `<text x="${x}" y="${top + rows * rowH + 14}" text-anchor="middle" fill="#666" font-size="10">${num(v)}</text>`,
      );
    }
    o.push(
      `<text x="${x0 + panelW / 2}" y="${top + rows * rowH + 28}" text-anchor="middle" fill="#666" font-size="10">${esc(p.unit)}</text>`,
    );
    p.bars.forEach((b, i) => {
      const y = top + i * rowH + 4,
        h = rowH - 8;
      if (b.median === null) {
        o.push(
          `<text x="${x0 + 4}" y="${y + h - 2}" fill="#999" font-size="10">${esc(b.missing ?? "not measured")}</text>`,
        );
        return;
      }
      const cut = b.median > axis;
      const w = Math.max(1, sx(b.median) - x0);
      o.push(
        `<rect x="${x0}" y="${y}" width="${w}" height="${h}" fill="${b.ceiling ? "#b9b9b9" : b.label.startsWith("ipsec-wasm") ? "#d9541e" : "#4477aa"}"/>`,
      );
      if (cut) {
        const bx = x0 + panelW - 18;
        o.push(
          `<path d="M${bx} ${y - 2} l6 ${h + 4} M${bx + 6} ${y - 2} l6 ${h + 4}" stroke="#fff" stroke-width="3"/>`,
        );
        o.push(
          `<text x="${x0 + panelW - 24}" y="${y + h - 3}" text-anchor="end" fill="#fff" font-size="10">${num(b.median)}</text>`,
        );
      } else {
        if (b.max > b.min) {
          const my = y + h / 2;
          o.push(
            `<path d="M${sx(b.min)} ${my} H${sx(b.max)} M${sx(b.min)} ${my - 3} v6 M${sx(b.max)} ${my - 3} v6" stroke="#222" stroke-width="1"/>`,
          );
        }
        o.push(
          `<text x="${Math.min(sx(Math.max(b.median, b.max)) + 4, x0 + panelW - 2)}" y="${y + h - 3}" font-size="10">${num(b.median)}</text>`,
        );
      }
    });
  });
  o.push("</svg>");
  return o.join("\n") + "\n";
}
