extension ShardLeaseManager {
    /// Stops renewing and watching, releasing nothing, as if the process were paused.
    ///
    /// For tests of failover: with ``resume()``, it stands for SIGSTOP and SIGCONT.
    package func pause() async {
        await self.stopTasks()
    }

    /// Carries on after ``pause()``, as a paused process does when it is continued.
    package func resume() {
        self.startTasks()
    }

    /// Stops renewing but keeps the watchdog, as if the database could not be reached.
    package func stopRenewing() async {
        await self.stopTasks()
        self.startWatchdog()
    }
}

extension UpkeepLeadership {
    /// Stops renewing and watching, releasing nothing, as if the process were paused.
    package func pause() async {
        await self.stopTasks()
    }

    /// Carries on after ``pause()``, as a paused process does when it is continued.
    package func resume() {
        self.startTasks()
    }
}
