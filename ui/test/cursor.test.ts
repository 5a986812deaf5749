import { describe, expect, it } from "vitest";
import { Cursor } from "../src/cursor";

describe("Cursor", () => {
  it("starts empty, so the first connection asks for no replay", () => {
    expect(new Cursor().since).toBeNull();
  });

  it("keeps the largest seq seen, whatever order replay and live delivery interleave in", () => {
    const cursor = new Cursor();
    for (const seq of [5, 9, 7, 9, 3]) cursor.see(seq);
    expect(cursor.since).toBe(9);
  });

  it("ignores events without a log seq (typing, presence) and values that are not sequence numbers", () => {
    const cursor = new Cursor();
    cursor.see(4);
    for (const bad of [undefined, null, "12", -1, 1.5, Number.NaN]) cursor.see(bad);
    expect(cursor.since).toBe(4);
  });

  it("moves to resume_complete's upTo, never backwards", () => {
    const cursor = new Cursor();
    cursor.see(10);
    cursor.resumedTo(25);
    expect(cursor.since).toBe(25);
    cursor.resumedTo(20);
    expect(cursor.since).toBe(25);
  });
});
