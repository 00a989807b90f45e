import GnomonStore
import Testing

@Suite("Connection strings")
struct PostgresConnectionStringTests {
    private static let timeouts = [("connect_timeout", "2"), ("tcp_user_timeout", "5000")]

    @Test("parameters join a URI's query, starting one when it has none")
    func uri() {
        #expect(
            PostgresConnectionString.adding(Self.timeouts, to: "postgresql://gnomon@db.internal/gnomon")
                == "postgresql://gnomon@db.internal/gnomon?connect_timeout=2&tcp_user_timeout=5000")
        #expect(
            PostgresConnectionString.adding(Self.timeouts, to: "postgres://db/g?sslmode=require")
                == "postgres://db/g?sslmode=require&connect_timeout=2&tcp_user_timeout=5000")
        #expect(
            PostgresConnectionString.adding([("application_name", "a b&c")], to: "postgresql://db/g")
                == "postgresql://db/g?application_name=a%20b%26c")
    }

    @Test("parameters follow a keyword/value list, quoted where libpq needs it")
    func keywordList() {
        #expect(
            PostgresConnectionString.adding(Self.timeouts, to: "host=/tmp port=5432 dbname=gnomon ")
                == "host=/tmp port=5432 dbname=gnomon connect_timeout=2 tcp_user_timeout=5000")
        #expect(
            PostgresConnectionString.adding([("application_name", "it's")], to: "dbname=g")
                == #"dbname=g application_name='it\'s'"#)
    }

    @Test("a bare database name becomes a keyword/value list")
    func bareName() {
        #expect(
            PostgresConnectionString.adding(Self.timeouts, to: "gnomon")
                == "dbname=gnomon connect_timeout=2 tcp_user_timeout=5000")
        #expect(PostgresConnectionString.adding(Self.timeouts, to: "") == "connect_timeout=2 tcp_user_timeout=5000")
        #expect(PostgresConnectionString.adding([], to: "gnomon") == "gnomon")
    }

    @Test("server settings extend the options a string already has, in every form")
    func serverSettings() {
        let idle = [("idle_in_transaction_session_timeout", "5000")]
        #expect(
            PostgresConnectionString.addingServerSettings(idle, to: "dbname=g")
                == "dbname=g options='-c idle_in_transaction_session_timeout=5000'")
        #expect(
            PostgresConnectionString.addingServerSettings(idle, to: "dbname=g options='-c search_path=x'")
                == #"dbname=g options='-c search_path=x' options='-c search_path=x -c idle_in_transaction_session_timeout=5000'"#
        )
        #expect(
            PostgresConnectionString.addingServerSettings(idle, to: "postgresql://db/g?options=-c%20work_mem%3D8MB")
                == "postgresql://db/g?options=-c%20work_mem%3D8MB&options=-c%20work_mem%3D8MB%20-c%20"
                + "idle_in_transaction_session_timeout%3D5000")
        #expect(PostgresConnectionString.addingServerSettings([], to: "gnomon") == "gnomon")
    }
}
