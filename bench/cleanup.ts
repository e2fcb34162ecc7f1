// Stops everything the bench started, in reverse order, even when a step fails or the user
// presses Ctrl-C, and bounds the whole run so a hung server cannot keep it alive.

type Stopper = () => Promise<void> | void;

export class Cleanup {
  private readonly stoppers: Array<{ name: string; stop: Stopper }> = [];
  private running?: Promise<void>;

  /** True once clean-up has begun: work in progress should stop, its results are void. */
  get stopping(): boolean {
    return this.running !== undefined;
  }

  add(name: string, stop: Stopper): void {
    this.stoppers.push({ name, stop });
  }

  /** Runs every stopper once (last added first); each gets 10 s before the next one starts. */
  run(): Promise<void> {
    this.running ??= (async () => {
      for (const { name, stop } of this.stoppers.reverse()) {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            Promise.resolve().then(stop),
            new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timed out after 10 s')), 10_000))),
          ]);
        } catch (error) {
          process.stderr.write(`bench: stopping ${name} failed: ${(error as Error).message}\n`);
        } finally {
          clearTimeout(timer);
        }
      }
    })();
    return this.running;
  }

  /** Ctrl-C, SIGTERM and a hard deadline all stop the children, then exit non-zero. */
  guard(deadlineMs: number): void {
    const bail = (why: string, code: number): void => {
      process.stderr.write(`\nbench: ${why}; stopping servers\n`);
      void this.run().finally(() => process.exit(code));
    };
    process.once('SIGINT', () => bail('interrupted', 130));
    process.once('SIGTERM', () => bail('terminated', 143));
    setTimeout(() => bail(`still running after ${Math.round(deadlineMs / 1000)} s (deadline)`, 1), deadlineMs).unref();
  }
}

/** Runs a bench entry point and exits with its code; a crash prints its stack under `name`. */
export function runMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
