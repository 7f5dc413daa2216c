// DataPlaneService (proto/keyward/v1/data_plane_service.proto): the data
// plane over one bidirectional stream. Errors of the stream as a whole:
// UnauthenticatedError, ResourceExhaustedError, InvalidArgumentError,
// DeadlineExceededError, UnavailableError; each item's own status is in its
// result (status.code 0 = OK, else the code its unary call would return).
'use strict';

const {errorFromGrpc} = require('./errors');
const util = require('./util');

const S = 'DataPlaneService';

module.exports = {
  // Sends each StreamRequest ({items: [{id, sign|verify|encrypt|decrypt|mac|
  // verifyMac|signJwt|verifyJwt: request}]}) of the (async) iterable
  // `requests` and yields the StreamResult of every item as items finish
  // (match them by id). The deadline (timeout, else streamTimeout) covers
  // the stream; leaving the iteration early cancels it.
  async* stream(requests, opts) {
    const o = util.checkOptions('stream', opts, []);
    const deadline = this._deadline(o.timeout, true);
    const def = this._def(S, 'Stream');
    const call = this._channel.makeBidiStreamRequest(
        def.path, def.requestSerialize, def.responseDeserialize,
        this._metadata(), {deadline: new Date(deadline)});
    let done = false;
    const writer = (async () => {
      for await (const message of requests) {
        if (!call.write(message)) {
          await new Promise((resolve) => call.once('drain', resolve));
        }
      }
      call.end();
    })();
    writer.catch(() => call.cancel());
    try {
      for await (const response of call) yield* response.results;
      done = true;
    } catch (e) {
      throw errorFromGrpc(e, `${S}/Stream`);
    } finally {
      if (!done) call.cancel();
    }
  },
};
