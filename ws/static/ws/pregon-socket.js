// Pregón socket clients. Plain ES modules: no build step, no CDN.
//
// ReconnectingSocket: a JSON WebSocket that reconnects with exponential
// backoff and full jitter (so a thousand tabs do not come back in step after
// a restart), and gives up only on the close codes that mean "never":
// 4401 not signed in, 4403 not allowed, 4404 unknown tenant or store.
//
// StoreStream: a store's order stream. It remembers the last `seq` it showed,
// reconnects with ?after=<seq> so the server replays exactly what was
// missed, drops duplicates, and asks for a hole (`resume`) when it sees one
// or when a heartbeat says it is behind.

const PERMANENT_CLOSE = new Set([4401, 4403, 4404]);

export function backoffDelay(attempt, { baseMs = 500, maxMs = 30000 } = {}) {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.random() * ceiling; // full jitter
}

export class ReconnectingSocket {
  constructor(url, { onFrame, onState = () => {} }) {
    this.url = url; // a string or a function returning one (evaluated per attempt)
    this.onFrame = onFrame;
    this.onState = onState;
    this.attempt = 0;
    this.stopped = false;
    this.ws = null;
    this.retryTimer = null;
    this.retryAt = null; // when the next attempt starts (ms since the epoch), while waiting
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    this.cancelRetry();
    if (this.ws) this.ws.close(1000);
  }

  // Skip the rest of the backoff wait (a person pressed "Retry now"). The
  // backoff keeps growing: a server that is down is not hammered by a tab.
  retryNow() {
    if (this.stopped || this.retryTimer === null) return false;
    this.cancelRetry();
    this.open();
    return true;
  }

  cancelRetry() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryAt = null;
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  open() {
    const url = typeof this.url === "function" ? this.url() : this.url;
    this.onState("connecting");
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.onState("live");
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      if (this.stopped) return this.onState("closed");
      if (PERMANENT_CLOSE.has(event.code)) return this.onState("refused", event.code);
      const delay = backoffDelay(this.attempt++);
      this.retryAt = Date.now() + delay;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.retryAt = null;
        this.open();
      }, delay);
      this.onState("offline", delay);
    };
  }
}

export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}`;
}

export class StoreStream {
  constructor({
    storeId,
    lastSeq = 0,
    onEvent,
    onPresence = () => {},
    onReset = () => {},
    onState = () => {},
    onFrame = () => {},
    presence = true, // false: an order's page, not the board (not listed as present)
  }) {
    this.storeId = storeId;
    this.lastSeq = lastSeq;
    this.onEvent = onEvent;
    this.onPresence = onPresence;
    this.onReset = onReset;
    this.resumeAsked = null; // the `after` of a resume still unanswered
    this.socket = new ReconnectingSocket(
      () => socketUrl(`/ws/stores/${this.storeId}/orders/?after=${this.lastSeq}${presence ? "" : "&presence=off"}`),
      {
        onFrame: (frame) => {
          onFrame(frame); // any frame: the server is there (the board shows when it last heard)
          this.handle(frame);
        },
        onState,
      }
    );
  }

  start() {
    this.socket.start();
  }

  stop() {
    this.socket.stop();
  }

  retryNow() {
    return this.socket.retryNow();
  }

  // When the next reconnect attempt starts (ms since the epoch), or null.
  get retryAt() {
    return this.socket.retryAt;
  }

  // After a reload over HTTP (e.g. on `reset`): continue from that position.
  moveTo(seq) {
    this.lastSeq = seq;
    this.resumeAsked = null;
  }

  handle(frame) {
    if (typeof frame.seq === "number") {
      if (frame.seq <= this.lastSeq) return; // already shown
      if (frame.seq > this.lastSeq + 1) return this.askFor(this.lastSeq); // a hole
      this.lastSeq = frame.seq;
      this.resumeAsked = null;
      this.onEvent(frame);
      return;
    }
    switch (frame.type) {
      case "heartbeat":
      case "stream.live":
        if (frame.latest_seq > this.lastSeq) this.askFor(this.lastSeq);
        break;
      case "reset":
        this.onReset(frame);
        break;
      case "presence":
        this.onPresence(frame.users);
        break;
      case "error":
        console.warn("pregon socket:", frame.code, frame.detail);
        break;
    }
  }

  askFor(after) {
    if (this.resumeAsked === after) return;
    if (this.socket.send({ type: "resume", after })) this.resumeAsked = after;
  }
}
