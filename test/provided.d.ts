// Values the global setup hands to tests through inject().
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    openbaoUrl: string;
    motoUrl: string;
  }
}
