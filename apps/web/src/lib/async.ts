import { useCallback, useEffect, useRef, useState, type DependencyList } from "react";

export interface AsyncState<T> {
  value?: T;
  /** The error, as thrown (turn it into a sentence with errorSentence / <ErrorText>). */
  error?: unknown;
  /** True while the first load (or a reload) runs. */
  loading: boolean;
  /** Runs the function again (after a transaction, on a timer). The old value stays shown meanwhile. */
  reload(): void;
}

/**
 * Runs `fn` when `deps` change and keeps its result; a result that arrives after the deps changed again (or after
 * unmount) is dropped. `signal` aborts with it (pass it to fetch). With `refreshMs`, reloads on a timer.
 */
export function useAsync<T>(fn: (signal: AbortSignal) => Promise<T>, deps: DependencyList, refreshMs?: number): AsyncState<T> {
  const [state, setState] = useState<{ value?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    fnRef.current(controller.signal).then(
      (value) => !controller.signal.aborted && setState({ value, loading: false }),
      (error: unknown) => !controller.signal.aborted && setState((s) => ({ value: s.value, error, loading: false })),
    );
    return () => controller.abort();
    // The caller's deps decide when to run again (fn is read through a ref).
  }, [...deps, tick]);
  useEffect(() => {
    if (!refreshMs) return;
    const timer = setInterval(() => setTick((t) => t + 1), refreshMs);
    return () => clearInterval(timer);
  }, [refreshMs]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}
