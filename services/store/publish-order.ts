/**
 * Keeps the commits of one publisher (one PublishStream) in call order. Each
 * publish takes a turn when it is called; its commit is submitted only after
 * the previous turn's commit was submitted (or that publish failed first). A
 * batch still uploading large payloads therefore holds back the commits of the
 * batches behind it, never their uploads, and a subject's sequences follow the
 * order of the calls.
 */
export class PublishOrder {
  #previous: Promise<void> = Promise.resolve();

  /** The next turn: await `ready` before submitting the commit, then call `done` (also on failure; twice is harmless). */
  take(): { ready: Promise<void>; done: () => void } {
    const ready = this.#previous;
    let done!: () => void;
    this.#previous = new Promise<void>((resolve) => (done = resolve));
    return { ready, done };
  }
}
