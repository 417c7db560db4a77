// Preloaded into Portkey's gateway (`node --import`): its start script calls
// `serve({fetch, port})` with no hostname, which listens on every interface. This makes any
// listen() without a host bind to 127.0.0.1 instead, without editing the package.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" && (args[1] === undefined || typeof args[1] === "function")) {
    const rest = args.slice(1).filter((a) => a !== undefined);
    return listen.call(this, args[0], "127.0.0.1", ...rest);
  }
  return listen.apply(this, args);
};
