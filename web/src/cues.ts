// The call centre's sound cue: a short two-tone beep from WebAudio when an alarm arrives.
// Every cue is also recorded on window.__zhulaoCues (alarm id, time, audio state) so the
// end-to-end tests can check that it played.

interface Cue {
  alarmId: number;
  kind: string;
  at: number;
  audio: string;
}

declare global {
  interface Window {
    __zhulaoCues: Cue[];
  }
}

window.__zhulaoCues = window.__zhulaoCues ?? [];

let ctx: AudioContext | null = null;
let enabled = localStorage.getItem('zhulao.sound') !== 'off';

export function soundEnabled(): boolean {
  return enabled;
}

export function setSound(on: boolean): void {
  enabled = on;
  localStorage.setItem('zhulao.sound', on ? 'on' : 'off');
  if (on) unlock();
}

/** Browsers start audio only after a gesture: call on the first click. */
export function unlock(): void {
  try {
    ctx = ctx ?? new AudioContext();
    if (ctx.state === 'suspended') void ctx.resume();
  } catch {
    ctx = null;
  }
}

/** Plays the cue for an arriving alarm (urgent kinds beep three times). */
export function alarmCue(alarmId: number, kind: string, urgent: boolean): void {
  let state = 'muted';
  if (enabled) {
    try {
      ctx = ctx ?? new AudioContext();
      if (ctx.state === 'suspended') void ctx.resume();
      state = ctx.state;
      const t0 = ctx.currentTime + 0.01;
      const beeps = urgent ? 3 : 1;
      for (let i = 0; i < beeps; i++) {
        for (const [j, f] of [880, 660].entries()) {
          const osc = ctx.createOscillator();
          const gain = ctx.createGain();
          osc.type = 'sine';
          osc.frequency.value = f;
          const start = t0 + i * 0.5 + j * 0.18;
          gain.gain.setValueAtTime(0.0001, start);
          gain.gain.exponentialRampToValueAtTime(0.3, start + 0.02);
          gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.16);
          osc.connect(gain).connect(ctx.destination);
          osc.start(start);
          osc.stop(start + 0.17);
        }
      }
    } catch {
      state = 'unavailable';
    }
  }
  window.__zhulaoCues.push({ alarmId, kind, at: Date.now(), audio: state });
}
