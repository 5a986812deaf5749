// The largest log sequence this page has applied: passed as `since` when the socket reconnects, so the
// server replays exactly what was missed (SOCKETIO.md). Null until the first event arrives.

export class Cursor {
  private value: number | null = null;

  get since(): number | null {
    return this.value;
  }

  /** Records an applied event's seq; a smaller one (a replay overlapping live delivery) changes nothing. */
  see(seq: unknown): void {
    if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) return;
    if (this.value === null || seq > this.value) this.value = seq;
  }

  /** `resume_complete {upTo}`: everything up to there has been replayed. */
  resumedTo(upTo: unknown): void {
    this.see(upTo);
  }
}
