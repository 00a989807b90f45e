import Testing

@testable import GnomonNetwork

@Suite("TLS settings")
struct TLSSettingsTests {
    @Test("a server refuses a client that offers no ALPN protocol, and says why")
    func clientWithoutALPN() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki)
        pair.client.offerApplicationProtocols([])
        pair.run()

        #expect(pair.serverError?.code == .handshakeFailed)
        #expect(
            pair.serverError?.message
                == "handshake failed: the client offered no application protocol (ALPN); it must offer gnomon/1"
        )
        #expect(pair.clientError?.code == .handshakeFailed)
        #expect(pair.clientError?.message == "handshake failed: tlsv1 alert no application protocol")
        #expect(!pair.server.isHandshakeComplete && !pair.client.isHandshakeComplete)
    }

    @Test("a server refuses a client that offers only other ALPN protocols, and names them")
    func clientWithOtherALPN() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki)
        pair.client.offerApplicationProtocols(["h2", "http/1.1"])
        pair.run()

        #expect(pair.serverError?.code == .handshakeFailed)
        #expect(
            pair.serverError?.message
                == "handshake failed: the client offered the application protocols [h2, http/1.1] (ALPN) "
                + "but not gnomon/1"
        )
        #expect(pair.clientError?.message == "handshake failed: tlsv1 alert no application protocol")
    }

    @Test("a server accepts a client that offers gnomon/1 among others, and selects it")
    func clientWithSeveralALPN() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki)
        pair.client.offerApplicationProtocols(["h2", "gnomon/1"])
        pair.run()

        #expect(pair.server.negotiatedProtocol == "gnomon/1")
        #expect(pair.client.isHandshakeComplete && pair.server.isHandshakeComplete)
    }

    @Test("a client refuses a server that selects no ALPN protocol, and delivers it nothing")
    func serverWithoutALPN() throws {
        let pki = try TestPKI()
        let serverContext = try TLSContext(role: .server, configuration: pki.serverConfiguration())
        serverContext.stopNegotiatingApplicationProtocol()
        let client = try TLSClientContext(configuration: pki.clientConfiguration())
        let pair = SessionPair(
            client: try client.makeClientSession(serverName: "localhost"),
            server: try TLSSession(context: serverContext, serverName: nil)
        )
        pair.run()

        #expect(pair.clientError?.code == .handshakeFailed)
        #expect(
            pair.clientError?.message
                == "handshake failed: the peer selected no application protocol (ALPN); gnomon/1 is required"
        )
        #expect(throws: TLSError.self) { try pair.client.write("request") }
        #expect(!pair.client.isHandshakeComplete)
    }

    @Test(
        "a client refuses a certificate that is not valid for the name it connects to",
        arguments: [
            ("example.com", "hostname mismatch"),
            ("10.0.0.1", "IP address mismatch"),
        ])
    func wrongServerName(name: String, reason: String) throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki, serverName: name)
        pair.run()

        #expect(pair.clientError?.code == .handshakeFailed)
        #expect(pair.clientError?.message == "handshake failed: certificate verify failed: \(reason)")
        #expect(pair.serverError?.code == .handshakeFailed)
    }

    @Test(
        "a client accepts the server by any name or address in its certificate",
        arguments: [
            "localhost", "LOCALHOST", "127.0.0.1", "::1", "[::1]",
        ])
    func rightServerName(name: String) throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki, serverName: name)
        pair.run()

        #expect(pair.clientError == nil && pair.serverError == nil)
        #expect(pair.client.isHandshakeComplete)
    }

    @Test("a client refuses a server whose certificate chains to a CA it does not trust")
    func untrustedAuthority() throws {
        let pki = try TestPKI()
        let stranger = try TestPKI()
        let pair = try SessionPair(pki, client: stranger.clientConfiguration())
        pair.run()

        #expect(pair.clientError?.code == .handshakeFailed)
        #expect(
            pair.clientError?.message
                == "handshake failed: certificate verify failed: unable to get local issuer certificate"
        )
    }

    @Test("a client without a CA file trusts the system's authorities, which never signed a development CA")
    func systemAuthorities() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki, client: TLSConfiguration())
        pair.run()

        #expect(pair.clientError?.code == .handshakeFailed)
        #expect(pair.clientError?.message.hasPrefix("handshake failed: certificate verify failed") == true)
    }

    @Test("a TLS 1.3 server refuses TLS 1.2 clients")
    func tls12Refused() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki)
        pair.client.limitToTLS12()
        pair.run()

        #expect(pair.serverError?.code == .handshakeFailed)
        #expect(pair.serverError?.message == "handshake failed: unsupported protocol")
        #expect(pair.clientError?.message == "handshake failed: tlsv1 alert protocol version")
    }

    @Test("a TLS 1.3 client refuses TLS 1.2 servers")
    func tls12ServerRefused() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki, server: pki.serverConfiguration(allowTLS12: true))
        pair.server.limitToTLS12()
        pair.run()

        #expect(pair.clientError?.code == .handshakeFailed)
        #expect(pair.serverError?.code == .handshakeFailed)
    }

    @Test("with TLS 1.2 allowed, a TLS 1.3 client still gets TLS 1.3")
    func tls13Preferred() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(
            pki,
            server: pki.serverConfiguration(allowTLS12: true),
            client: pki.clientConfiguration(allowTLS12: true)
        )
        pair.run()

        #expect(pair.client.negotiatedVersion == "TLSv1.3")
        #expect(pair.server.negotiatedVersion == "TLSv1.3")
    }

    @Test(
        "with TLS 1.2 allowed, each ECDHE AEAD suite a TLS 1.2 client offers alone is accepted",
        arguments: [
            "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305",
        ])
    func tls12AEAD(suite: String) throws {
        let pki = try TestPKI()
        let pair = try SessionPair(
            pki,
            server: pki.serverConfiguration(allowTLS12: true),
            client: pki.clientConfiguration(allowTLS12: true)
        )
        pair.client.limitToTLS12(ciphers: suite)
        pair.run()
        try pair.client.write("over TLS 1.2")
        pair.run()

        #expect(pair.server.negotiatedVersion == "TLSv1.2")
        #expect(pair.server.negotiatedCipherSuite == suite)
        #expect(pair.server.negotiatedProtocol == "gnomon/1")
        #expect(pair.serverReceived == Array("over TLS 1.2".utf8))
    }

    @Test(
        "with TLS 1.2 allowed, a client offering only CBC or static-RSA suites is refused",
        arguments: [
            "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA",
            "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA",
        ])
    func tls12WeakSuites(suites: String) throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki, server: pki.serverConfiguration(allowTLS12: true))
        pair.client.limitToTLS12(ciphers: suites)
        pair.run()

        #expect(pair.serverError?.code == .handshakeFailed)
        #expect(pair.serverError?.message == "handshake failed: no shared cipher")
        #expect(!pair.client.isHandshakeComplete)
    }

    @Test("no session can be resumed, so no 0-RTT data can be sent, and nothing is compressed")
    func noResumptionNoCompression() throws {
        let pki = try TestPKI()
        for allowTLS12 in [false, true] {
            let pair = try SessionPair(pki, server: pki.serverConfiguration(allowTLS12: allowTLS12))
            if allowTLS12 {
                pair.client.limitToTLS12()
            }
            pair.run()
            try pair.server.write("after the handshake, when TLS 1.3 servers send tickets")
            pair.run()

            #expect(pair.client.isHandshakeComplete)
            #expect(!pair.client.isResumable && !pair.server.isResumable)
            #expect(!pair.client.usesCompression && !pair.server.usesCompression)
        }
    }

    @Test("a server refuses a TLS 1.2 client's request to renegotiate with the no_renegotiation alert")
    func clientRenegotiationRefused() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki, server: pki.serverConfiguration(allowTLS12: true))
        pair.client.limitToTLS12()
        pair.run()
        #expect(pair.client.negotiatedVersion == "TLSv1.2")

        #expect(pair.client.requestRenegotiation())
        pair.run()
        // OpenSSL, refused, ends the connection rather than carry on with the old keys.
        #expect(pair.clientError?.message == "connection failed: no renegotiation")
        #expect(pair.serverError?.message == "connection failed: sslv3 alert handshake failure")
    }

    @Test("a client refuses a TLS 1.2 server's request to renegotiate with the no_renegotiation alert")
    func serverRenegotiationRefused() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki, server: pki.serverConfiguration(allowTLS12: true))
        pair.client.limitToTLS12()
        pair.run()

        #expect(pair.server.requestRenegotiation())
        pair.run()
        #expect(pair.serverError?.message == "connection failed: no renegotiation")
        #expect(pair.clientError?.message == "connection failed: sslv3 alert handshake failure")
    }

    @Test("TLS 1.3 has no renegotiation to ask for")
    func tls13Renegotiation() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki)
        pair.run()

        #expect(!pair.client.requestRenegotiation())
        #expect(!pair.server.requestRenegotiation())
    }

    @Test("a server that requires client certificates refuses a client without one")
    func mutualTLSWithoutCertificate() throws {
        let pki = try TestPKI()
        let pair = try SessionPair(pki, server: pki.mutualServerConfiguration())
        pair.run()

        #expect(pair.serverError?.code == .handshakeFailed)
        #expect(pair.serverError?.message == "handshake failed: peer did not return a certificate")
        // In TLS 1.3 the client finishes first, and learns of the refusal on its next read.
        #expect(pair.clientError?.message.contains("certificate required") == true)
    }

    @Test("a server that requires client certificates accepts one its CA signed, and knows whose it is")
    func mutualTLSWithCertificate() throws {
        let pki = try TestPKI()
        let client = try CertificateFiles.issueDevelopmentClientCertificate(commonName: "worker-7", in: pki.folder)
        let configuration = TLSConfiguration(
            certificateChainFile: client.certificateFile,
            privateKeyFile: client.keyFile,
            caFile: client.caFile
        )
        let pair = try SessionPair(pki, server: pki.mutualServerConfiguration(), client: configuration)
        pair.run()
        try pair.client.write("hello")
        pair.run()

        #expect(pair.clientError == nil && pair.serverError == nil)
        #expect(pair.server.peerCertificateSubject == "CN=worker-7,O=Gnomon development")
        #expect(pair.serverReceived == Array("hello".utf8))
    }

    @Test("a server that requires client certificates refuses one from another CA, or meant for a server")
    func mutualTLSWithWrongCertificate() throws {
        let pki = try TestPKI()
        let stranger = try TestPKI()
        let foreign = try CertificateFiles.issueDevelopmentClientCertificate(
            commonName: "intruder", in: stranger.folder)
        let cases = [
            (foreign.certificateFile, foreign.keyFile, "unable to get local issuer certificate"),
            (pki.files.certificateFile, pki.files.keyFile, "unsuitable certificate purpose"),
        ]
        for (certificate, key, reason) in cases {
            let configuration = TLSConfiguration(
                certificateChainFile: certificate,
                privateKeyFile: key,
                caFile: pki.files.caFile
            )
            let pair = try SessionPair(pki, server: pki.mutualServerConfiguration(), client: configuration)
            pair.run()

            #expect(pair.serverError?.message == "handshake failed: certificate verify failed: \(reason)")
            #expect(pair.server.peerCertificateSubject == nil)
        }
    }

    @Test("settings that cannot work are refused before any connection")
    func invalidConfigurations() throws {
        let pki = try TestPKI()
        let files = pki.files
        let refusals: [(TLSConfiguration, String)] = [
            (TLSConfiguration(), "a TLS server needs a certificate chain file and a private key file"),
            (
                TLSConfiguration(certificateChainFile: files.certificateFile),
                "a certificate chain file and a private key file go together; set both or neither"
            ),
            (
                TLSConfiguration(
                    certificateChainFile: files.certificateFile,
                    privateKeyFile: files.keyFile,
                    requireClientCertificate: true
                ),
                "requiring client certificates needs a CA file to verify them against"
            ),
        ]
        for (configuration, message) in refusals {
            let error = #expect(throws: TLSError.self) { try TLSServerContext(configuration: configuration) }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message == message)
        }

        let client = try TLSClientContext(configuration: pki.clientConfiguration())
        let empty = #expect(throws: TLSError.self) { try client.makeClientSession(serverName: "") }
        #expect(empty?.code == .invalidConfiguration)
    }

    @Test("files that cannot be used are refused with the file's name and the reason")
    func unusableFiles() throws {
        let pki = try TestPKI()
        let other = try TestPKI()
        let files = pki.files
        let missing = "\(pki.folder)/missing.pem"
        let refusals: [(TLSConfiguration, String)] = [
            (
                TLSConfiguration(certificateChainFile: missing, privateKeyFile: files.keyFile),
                "cannot read certificate chain file \(missing): No such file or directory"
            ),
            (
                TLSConfiguration(certificateChainFile: files.keyFile, privateKeyFile: files.keyFile),
                "certificate chain file \(files.keyFile) holds no usable PEM certificate: no start line"
            ),
            (
                TLSConfiguration(certificateChainFile: files.certificateFile, privateKeyFile: files.certificateFile),
                "private key file \(files.certificateFile) holds no unencrypted PEM private key"
            ),
            (
                TLSConfiguration(certificateChainFile: files.certificateFile, privateKeyFile: other.files.keyFile),
                "private key file \(other.files.keyFile) does not hold the key of the certificate in "
                    + "\(files.certificateFile)"
            ),
            (
                TLSConfiguration(
                    certificateChainFile: files.certificateFile,
                    privateKeyFile: files.keyFile,
                    caFile: files.keyFile,
                    requireClientCertificate: true
                ),
                "CA file \(files.keyFile) holds no usable PEM certificate"
            ),
        ]
        for (configuration, message) in refusals {
            let error = #expect(throws: TLSError.self) { try TLSServerContext(configuration: configuration) }
            #expect(error?.code == .invalidCertificate)
            #expect(error?.message.hasPrefix(message) == true, "\(error?.description ?? "")")
        }
    }
}
