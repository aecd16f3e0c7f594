// A handler class: handlePost, handleGet, handleDelete (no predict), like Cortex 0.35's Handler.
export default class Notes {
  notes: Record<string, string> = {};

  handlePost(payload: { text: string }) {
    const id = String(Object.keys(this.notes).length + 1);
    this.notes[id] = payload.text;
    return { id };
  }

  async handleGet(_payload: unknown, ctx: { queryParams: Record<string, string>; method: string }) {
    await Promise.resolve();
    return { notes: this.notes, q: ctx.queryParams, method: ctx.method, env: process.env.NOTES_OWNER };
  }

  handleDelete(_payload: unknown, ctx: { queryParams: Record<string, string> }) {
    const had = ctx.queryParams.id in this.notes;
    delete this.notes[ctx.queryParams.id];
    return { deleted: had };
  }
}
