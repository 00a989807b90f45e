enum ProtocolPlaceholder {}
