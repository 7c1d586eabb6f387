// Listeners of the client's own events ("change", "typing", ...): on() returns its own undo.

type Listener = (...args: any[]) => void;

export class Emitter<E extends Record<keyof E, Listener>> {
  private readonly listeners: Record<string, Set<Listener>> = {};

  /** Listen to an event; returns the function that stops listening. */
  on<K extends keyof E & string>(event: K, listener: E[K]): () => void {
    const set = (this.listeners[event] ??= new Set());
    set.add(listener as Listener);
    return () => void set.delete(listener as Listener);
  }

  protected emit<K extends keyof E & string>(event: K, ...args: Parameters<E[K]>): void {
    for (const listener of Array.from(this.listeners[event] ?? [])) {
      try {
        listener(...args);
      } catch (error) {
        setTimeout(() => {
          throw error; // a listener's own bug: surface it without breaking the client's bookkeeping
        });
      }
    }
  }
}
