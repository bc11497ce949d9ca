// Whether the API can be reached, and the banner that says so.
//
// api.js and events.js report what they see: reportUnreachable() after a
// network failure or a 502/503/504 (nginx answers 503 when no gateway is
// there), reportReachable() after any other answer. A report of trouble
// probes /api/healthz at once; only when that fails is the banner shown, and
// the probe repeated with a growing pause (1 s doubling to 15 s); "Retry now"
// probes at once. When a probe (or any other call) succeeds, the banner goes away and
// every onReconnect() listener runs, so the gallery and the event stream can
// catch up on what they missed.

export const MIN_DELAY_MS = 1000;
export const MAX_DELAY_MS = 15000;

class Connection {
  constructor() {
    this.reachable = true;
    this.delay = MIN_DELAY_MS;
    this.timer = 0;
    this.countdownTimer = 0;
    this.nextProbeAt = 0;
    this.probing = false;
    this.listeners = new Set();
    this.banner = null;
    this.text = null;
  }

  // Wires the banner's elements; called once at start.
  attach({ banner, text, retryButton }) {
    this.banner = banner;
    this.text = text;
    retryButton.addEventListener('click', () => this.probe());
    window.addEventListener('online', () => {
      if (!this.reachable) this.probe();
    });
  }

  onReconnect(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // A failed call is a suspicion, not a verdict: nginx answers 503 both when
  // the gateway is away and when the gateway says a dependency is down. The
  // health probe decides, and only a failed probe shows the banner.
  reportUnreachable() {
    if (!this.reachable || this.probing) return;
    this.delay = MIN_DELAY_MS;
    this.probe();
  }

  reportReachable() {
    if (this.reachable) return;
    this.reachable = true;
    clearTimeout(this.timer);
    clearInterval(this.countdownTimer);
    if (this.banner) this.banner.hidden = true;
    document.body.classList.remove('is-offline');
    for (const fn of this.listeners) {
      try {
        fn();
      } catch (err) {
        // One listener's failure must not keep the others from catching up.
        setTimeout(() => { throw err; });
      }
    }
  }

  show() {
    if (!this.banner) return;
    this.banner.hidden = false;
    document.body.classList.add('is-offline');
  }

  schedule() {
    clearTimeout(this.timer);
    clearInterval(this.countdownTimer);
    this.nextProbeAt = Date.now() + this.delay;
    this.timer = setTimeout(() => this.probe(), this.delay);
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    this.renderCountdown();
    this.countdownTimer = setInterval(() => this.renderCountdown(), 1000);
  }

  renderCountdown() {
    if (!this.text) return;
    const s = Math.max(0, Math.ceil((this.nextProbeAt - Date.now()) / 1000));
    this.text.textContent = s > 0
      ? `The server cannot be reached. Trying again in ${s} s…`
      : 'The server cannot be reached. Trying again…';
  }

  async probe() {
    if (this.probing) return;
    this.probing = true;
    clearTimeout(this.timer);
    clearInterval(this.countdownTimer);
    if (this.text && !this.reachable) this.text.textContent = 'Checking whether the server is back…';
    let ok = false;
    try {
      const response = await fetch('/api/healthz', { cache: 'no-store' });
      ok = response.ok;
    } catch {
      ok = false;
    }
    this.probing = false;
    if (ok) {
      this.reportReachable();
    } else {
      this.reachable = false;
      this.show();
      this.schedule();
    }
  }
}

export const connection = new Connection();
