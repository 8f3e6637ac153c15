// Responses this process builds from a string (every JSON answer and error body) keep that string as is:
//  - `new Response(string)` builds a web ReadableStream for the body up front, ~25 µs here against ~2 µs for a
//    Response without a body, per answer (twice for a 404: the bridge's body, then ours). A StringResponse is
//    a real Response built without a body; its body APIs (text, json, arrayBuffer, blob, bytes, formData,
//    body, bodyUsed, clone) behave as a `new Response(string, init)` would, building that Response on first use.
//  - the node:http adapter writes the string itself (knownBody) instead of reading a stream back.
// Only through these overridden members, so `Response.prototype.text.call(r)` would see no body: a
// StringResponse is for this process's own answers, which are read through their methods.

/** Statuses whose Response may not carry a body (Fetch standard "null body status"). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

class StringResponse extends Response {
  #text: string;
  #real: Response | undefined;

  constructor(text: string, init: ResponseInit) {
    if (NULL_BODY_STATUSES.has(init.status ?? 200) && text !== '')
      throw new TypeError(`Response with status ${init.status} cannot have a body`);
    super(null, init);
    this.#text = text;
    // As new Response(string) does when the caller names no type.
    if (!this.headers.has('content-type')) this.headers.set('content-type', 'text/plain;charset=UTF-8');
  }

  /** The string body, unless something has started reading the body since. */
  static textOf(response: Response): string | undefined {
    return response instanceof StringResponse && !response.bodyUsed ? response.#text : undefined;
  }

  /** The Response with the same body as a real stream: built once, when a body API is first used. */
  #materialize(): Response {
    return (this.#real ??= new Response(this.#text, {
      status: this.status,
      statusText: this.statusText,
      headers: this.headers,
    }));
  }

  override get body(): Response['body'] {
    return this.#materialize().body;
  }

  override get bodyUsed(): boolean {
    return this.#real?.bodyUsed ?? false;
  }

  override text(): Promise<string> {
    return this.#materialize().text();
  }

  override json(): Promise<unknown> {
    return this.#materialize().json() as Promise<unknown>;
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return this.#materialize().arrayBuffer();
  }

  override blob(): Promise<Blob> {
    return this.#materialize().blob();
  }

  override bytes(): ReturnType<Response['bytes']> {
    return this.#materialize().bytes();
  }

  override formData(): Promise<FormData> {
    return this.#materialize().formData();
  }

  override clone(): Response {
    if (this.bodyUsed) throw new TypeError('Response.clone: Body has already been consumed.');
    return new StringResponse(this.#text, {
      status: this.status,
      statusText: this.statusText,
      headers: this.headers,
    });
  }
}

/** A Response with `body` as its text body, as `new Response(body, init)`; knownBody() gives `body` back. */
export function stringResponse(body: string, init: ResponseInit): Response {
  return new StringResponse(body, init);
}

/** The string a Response was built from by stringResponse(), unless its body has been read since. */
export function knownBody(response: Response): string | undefined {
  return StringResponse.textOf(response);
}
