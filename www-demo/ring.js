// The phone's ring tone, made with Web Audio (nothing downloaded): two tones together, on for
// 1.2 s, off for 2 s, quiet. A browser that keeps audio locked until a tap plays nothing, and
// says nothing either; the ringing screen shows the call all the same.

/** Starts ringing; returns stop(). */
export function ringTone() {
  let ctx;
  try {
    ctx = new AudioContext();
  } catch (_) {
    return () => undefined;
  }
  const gain = ctx.createGain();
  gain.gain.value = 0;
  gain.connect(ctx.destination);
  const oscs = [440, 480].map((f) => {
    const o = ctx.createOscillator();
    o.frequency.value = f;
    o.connect(gain);
    o.start();
    return o;
  });
  // The on/off pattern, scheduled ahead for a minute (a call rings at most that long).
  const t0 = ctx.currentTime + 0.05;
  for (let k = 0; k < 20; k++) {
    const t = t0 + k * 3.2;
    gain.gain.setValueAtTime(0.05, t);
    gain.gain.setValueAtTime(0, t + 1.2);
  }
  ctx.resume().catch(() => undefined);
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    for (const o of oscs) o.stop();
    ctx.close().catch(() => undefined);
  };
}
