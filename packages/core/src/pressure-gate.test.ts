import { describe, expect, it } from 'vitest';
import { PressureGate } from './pressure-gate';

function gate(max: number) {
  const calls: string[] = [];
  let blocked = false;
  const g = new PressureGate(max, () => blocked, { pause: () => calls.push('pause'), resume: () => calls.push('resume') });
  return { g, calls, block: (b: boolean) => (blocked = b) };
}

describe('PressureGate', () => {
  it('pauses past the bound and resumes only once half drained (no flapping in between)', () => {
    const { g, calls } = gate(1000);
    g.update(1000);
    expect(g.paused).toBe(false);
    g.update(1001);
    expect(g.paused).toBe(true);
    g.update(2000);
    expect(calls).toEqual(['pause']);
    expect(g.pauses).toBe(1);
    // Under the bound but above half: still paused.
    g.update(600);
    expect(g.paused).toBe(true);
    expect(calls).toEqual(['pause']);
    const before = Date.now();
    g.update(500);
    expect(g.paused).toBe(false);
    expect(calls).toEqual(['pause', 'resume']);
    expect(g.resumedAt).toBeGreaterThanOrEqual(before);
  });

  it('stays paused while something else blocks (a full backend), whatever the bytes', () => {
    const { g, calls, block } = gate(1000);
    block(true);
    g.update(0);
    expect(g.paused).toBe(true);
    g.update(0);
    expect(calls).toEqual(['pause']);
    block(false);
    g.update(0);
    expect(g.paused).toBe(false);
    expect(calls).toEqual(['pause', 'resume']);
  });

  it('pauseIfOver never resumes; resume() resumes whatever is in flight', () => {
    const { g, calls } = gate(1000);
    g.pauseIfOver(10);
    expect(g.paused).toBe(false);
    g.update(5000);
    g.pauseIfOver(10);
    expect(g.paused).toBe(true);
    g.resume();
    g.resume();
    expect(g.paused).toBe(false);
    expect(calls).toEqual(['pause', 'resume']);
    g.pauseIfOver(1001);
    expect(calls).toEqual(['pause', 'resume', 'pause']);
    expect(g.pauses).toBe(2);
  });
});
