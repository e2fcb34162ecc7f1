// The clock every time-dependent part takes by injection (tests pass their own): Unix ms.
export type Clock = () => number;
