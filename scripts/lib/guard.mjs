// Constructs that work in DevTools but fail on phones (PLATFORM.md §3–§4), searched for in the
// shipped Mini Program plugin code. Used by scripts/build.mjs (the build fails on any hit).

export const FORBIDDEN = [
  ['import.meta', /import\.meta/],
  ['fetch(', /\bfetch\s*\(/],
  ['WebAssembly.', /(?<!WX)WebAssembly\./],
  ['initSync', /initSync/],
  ['eval(', /\beval\s*\(/],
  ['new Function', /new\s+Function\b/],
  // Never for secrets; the core's CSPRNG is seeded from wx.getRandomValues (SPEC §8).
  ['Math.random', /Math\.random/],
  // No crypto object on devices (wx.getRandomValues is the entropy source).
  ['crypto.', /(?<![\w.])crypto\./],
  // Missing on some old iOS clients.
  ['globalThis', /\bglobalThis\b/],
];

/** The forbidden constructs found in `text`, by name. */
export function forbiddenIn(text) {
  return FORBIDDEN.filter(([, re]) => re.test(text)).map(([name]) => name);
}
