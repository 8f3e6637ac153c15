// Responses this process builds from a string remember that string, so the node:http adapter can write it
// as it is instead of reading the Response's web stream back into a buffer (for a small JSON answer that
// read-back - a ReadableStream, its reader and an ArrayBuffer - costs about as much as building it).
// Any other Response (tRPC's own, a stream) is read through the standard body API as before.
const bodies = new WeakMap<Response, string>();

/** new Response(body, init), with `body` remembered for knownBody(). */
export function stringResponse(body: string, init: ResponseInit): Response {
  const response = new Response(body, init);
  bodies.set(response, body);
  return response;
}

/** The string a Response was built from by stringResponse(), unless its body has been read since. */
export function knownBody(response: Response): string | undefined {
  return response.bodyUsed ? undefined : bodies.get(response);
}
