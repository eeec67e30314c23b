// The generated parts of README.md and bench/README.md sit between two marker comments; the
// reports of bench/ and bench/tunnel/ rewrite only what lies between their own markers.

/** Replaces what lies between `start` and `end`, each alone on its line (a marker quoted in prose does not count). */
export function replaceBetween(text: string, start: string, end: string, section: string): string | undefined {
  const line = (m: string, from = 0) => {
    for (let i = text.indexOf(m, from); i >= 0; i = text.indexOf(m, i + 1)) {
      if ((i === 0 || text[i - 1] === "\n") && (text[i + m.length] ?? "\n") === "\n") return i;
    }
    return -1;
  };
  const a = line(start),
    b = a < 0 ? -1 : line(end, a);
  if (a < 0 || b < a) return undefined;
  return `${text.slice(0, a + start.length)}\n${section}\n${text.slice(b)}`;
}
