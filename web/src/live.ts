// The live feed (/api/v1/live, Server-Sent Events) read through fetch, so the bearer token
// goes in a header; reconnects with back-off and tells the page when it lost events.

import { token } from './api';

export interface LiveEvent {
  topic: 'alarm' | 'device' | 'notification';
  region_code: string;
  elder_id: number | null;
  responder_id: number | null;
  at: number;
  data: Record<string, any>;
}

export interface Feed {
  close(): void;
}

/** Subscribes; `onEvent` gets each event, `onState` whether the feed is up, `onGap` after a lag or reconnect. */
export function subscribe(onEvent: (e: LiveEvent) => void, onState: (up: boolean) => void, onGap: () => void): Feed {
  let stopped = false;
  let ctrl: AbortController | null = null;
  let first = true;
  const run = async () => {
    let delay = 500;
    while (!stopped) {
      ctrl = new AbortController();
      try {
        const r = await fetch('/api/v1/live', { headers: { Authorization: `Bearer ${token() ?? ''}`, Accept: 'text/event-stream' }, signal: ctrl.signal });
        if (!r.ok || !r.body) throw new Error(`live feed: ${r.status}`);
        onState(true);
        if (!first) onGap();
        first = false;
        delay = 500;
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let event = '';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trim();
            }
            if (event === 'lagged') onGap();
            else if (event && data) {
              try {
                onEvent(JSON.parse(data) as LiveEvent);
              } catch {
                /* a malformed event is skipped */
              }
            }
          }
        }
      } catch {
        /* reconnect below */
      }
      if (stopped) break;
      onState(false);
      await new Promise((res) => setTimeout(res, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  };
  void run();
  return {
    close() {
      stopped = true;
      ctrl?.abort();
    },
  };
}
