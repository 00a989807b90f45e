extension DevelopmentSigningKey {
    /// The `iss` of the tokens `gnomond --dev` mints and accepts from its development key.
    public static let issuer = "gnomond-dev"
}
