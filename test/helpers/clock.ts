// A clock a test can move forward. Backends stamp versions with real time; the gateway's
// lifecycle reads this clock, so advancing it is time passing for every rule.
export class TestClock {
  offsetMs = 0;
  readonly now = (): number => Date.now() + this.offsetMs;
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}
