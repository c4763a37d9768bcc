// The NIO side: collects an HTTP/1.1 request, hands it to the engine, writes (or drops) the response.

import NIOCore
import NIOHTTP1

final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let core: APIServerCore
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    /// Requests larger than this are refused with 413, as the real server caps bodies at 3 MiB.
    private let maxBody = 3 * 1024 * 1024

    init(core: APIServerCore) {
        self.core = core
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = context.channel.allocator.buffer(capacity: 0)
        case .body(var chunk):
            if (body?.readableBytes ?? 0) + chunk.readableBytes <= maxBody + 1 {
                body?.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let uri = head.uri
            let path: String
            let query: String
            if let q = uri.firstIndex(of: "?") {
                path = String(uri[..<q])
                query = String(uri[uri.index(after: q)...])
            } else {
                path = uri
                query = ""
            }
            var headers: [String: String] = [:]
            for (name, value) in head.headers {
                let key = name.lowercased()
                if let existing = headers[key] { headers[key] = existing + "," + value } else { headers[key] = value }
            }
            var bytes: [UInt8] = []
            if var b = body { bytes = b.readBytes(length: b.readableBytes) ?? [] }
            body = nil
            let response: HTTPResponseData
            if bytes.count > maxBody {
                response = .error(APIError(code: 413, reason: "RequestEntityTooLarge", message: "Request entity too large: limit is 3145728"))
            } else {
                let request = HTTPRequestData(
                    method: head.method.rawValue, path: path, query: query, headers: headers, body: bytes)
                response = core.handle(request)
            }
            let keepAlive = head.isKeepAlive
            if response.delay > .zero {
                let components = response.delay.components
                let nanos = components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .nanoseconds(nanos)) {
                    let (handler, ctx) = bound.value
                    handler.write(response, keepAlive: keepAlive, version: head.version, context: ctx)
                }
            } else {
                write(response, keepAlive: keepAlive, version: head.version, context: context)
            }
        }
    }

    private func write(_ response: HTTPResponseData, keepAlive: Bool, version: HTTPVersion, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        if response.drop {
            context.close(promise: nil)
            return
        }
        var headers = HTTPHeaders()
        for (k, v) in response.headers { headers.add(name: k, value: v) }
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Cache-Control", value: "no-cache, private")
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let head = HTTPResponseHead(
            version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: response.body.count)
        buffer.writeBytes(response.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                loopBound.value.close(promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
