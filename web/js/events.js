// Live status from the gateway's Server-Sent Events stream (/api/events).
//
// One EventSource for the whole page, unfiltered, so that uploads from other
// tabs and people appear too. Each `status` event carries
// {id, status, variant, variant_status, at, error}; listeners get it parsed.
// The browser reconnects a dropped stream by itself; when it gives up (the
// stream answered with an error such as nginx's 502), connection.js is told,
// and the stream is opened again once the API is reachable. Every (re)open
// calls the onOpen listeners, because events sent while the stream was down
// are lost and the page must re-read what was in work.

import { connection } from './connection.js';

class Events {
  constructor() {
    this.source = null;
    this.statusListeners = new Set();
    this.openListeners = new Set();
    this.everOpened = false;
    connection.onReconnect(() => {
      if (!this.source || this.source.readyState === EventSource.CLOSED) this.connect();
    });
  }

  onStatus(fn) {
    this.statusListeners.add(fn);
  }

  onOpen(fn) {
    this.openListeners.add(fn);
  }

  connect() {
    if (this.source) this.source.close();
    const source = new EventSource('/api/events');
    this.source = source;
    source.addEventListener('open', () => {
      connection.reportReachable();
      const again = this.everOpened;
      this.everOpened = true;
      for (const fn of this.openListeners) fn(again);
    });
    source.addEventListener('status', (e) => {
      let ev;
      try {
        ev = JSON.parse(e.data);
      } catch {
        return; // a malformed event is dropped, never fatal
      }
      if (!ev || typeof ev.id !== 'string') return;
      for (const fn of this.statusListeners) fn(ev);
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED && this.source === source) {
        // The browser will not retry on its own: wait for the API to be back.
        connection.reportUnreachable();
      }
    });
  }
}

export const events = new Events();
