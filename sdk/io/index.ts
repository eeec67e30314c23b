/**
 * Packet I/O for Node, Deno and Bun on Linux (the `ipsec-wasm/io` subpath; never imported by the
 * package's main entry, which also runs in browsers and workerd): a TUN device, batched UDP
 * (recvmmsg/sendmmsg) and the packet worker that runs a Dataplane between them. Everything that
 * needs libc goes through the runtime's FFI, loaded on first use: koffi under Node (an optional
 * peer dependency; without it the functions throw an {@link IoError} `FFI_MISSING` that says
 * `npm install koffi@3`), `Deno.dlopen` under Deno (`FFI_MISSING` without --allow-ffi), `bun:ffi`
 * under Bun.
 *
 * The contract: {@link TunnelTransport.start} gives an IKE transport plus the Dataplane to
 * install Child SAs in; {@link TunnelTransport.attach} lets it follow an IkeDaemon's Child SAs.
 * @module
 */
export { IoError, IO_EXIT_CODES, type IoErrorCode } from "./errors.ts";
export { loadLibc, type Libc, type NativeBlock } from "./libc.ts";
export { TunDevice, checkTunName, rangeToPrefixes } from "./tun-linux.ts";
export { MmsgSocket } from "./udp-mmsg.ts";
export { TunnelTransport, type TunnelOptions } from "./tunnel.ts";
export { packetTooBig } from "./icmp-too-big.ts";
export { compileTs, matchTs, wireTs, type WireTs, type CompiledTs } from "./selectors.ts";
export { STAGES, type IoCounters, type UdpIoMode, type WorkerSetup } from "./messages.ts";
