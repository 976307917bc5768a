/** Collects diagnostics_channel messages for a test, with a wait for one that matches. */
import diagnosticsChannel from 'node:diagnostics_channel';

export class ChannelLog<T> implements Disposable {
  readonly messages: T[] = [];
  readonly #name: string;
  #waiters: (() => void)[] = [];
  readonly #onMessage = (m: unknown): void => {
    this.messages.push(m as T);
    for (const w of this.#waiters) w();
  };

  constructor(name: string) {
    this.#name = name;
    diagnosticsChannel.subscribe(name, this.#onMessage);
  }

  /** Resolves with the first message (already seen or future) that matches. */
  async waitFor(pred: (m: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(pred);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message on ${this.#name} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
      this.#waiters = [];
    }
  }

  close(): void {
    diagnosticsChannel.unsubscribe(this.#name, this.#onMessage);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
