import StrataDebian
import StrataEnvironment
import StrataModel
import StrataSandbox
import StrataSessions
import StrataStore

extension Builder {
    /// `SOURCE_DATE_EPOCH` of an environment's `run` steps: the manifest's `epoch`, else
    /// its Debian release's date, else 0. A function of the lockfile (which pins the
    /// manifest's digest), so that the same lock always builds the same layers.
    static func stepEpoch(_ environment: LoadedEnvironment, lockfile: Lockfile) -> Int64 {
        if let epoch = environment.manifest.epoch { return epoch }
        if case .debian(let debian) = lockfile.base { return ReleaseFile.seconds(debian.date) ?? 0 }
        return 0
    }

    /// The layer of `run` on the layers `below` (bottom first): the one the store recorded
    /// for its key, else made now by running it. `ran` says which.
    func runStep(_ run: Manifest.RunStep, name: BuildStepName, below: [Digest], environment: LoadedEnvironment,
                 lockfile: Lockfile, options: BuildOptions) throws(StrataError) -> (layer: Digest, ran: Bool) {
        let sessions = Sessions(store: store, context: context)
        let epoch = Self.stepEpoch(environment, lockfile: lockfile)
        let lowerDirs: [String]
        do {
            let snapshot = try store.publishSnapshot(diffIDs: below)
            lowerDirs = Sessions.withoutRepeats(try store.lowerDirs(for: snapshot))
        } catch { throw .store(error) }
        let runtime = try sessions.stepRuntime(environment, lockfile: lockfile, step: run, lowerDirs: lowerDirs, epoch: epoch)
        let key = LayerKeys.runStep(below: below, definition: runtime.definition(cache: run.cache))
        if !options.noCache, let layer = store.runStepLayer(key) {
            context.events(.cached(name))
            return (layer, false)
        }
        context.events(.started(name))
        let began = Self.monotonicSeconds()
        // Taken in one order (sorted) so that two builds wanting the same caches never deadlock.
        var caches: [RunCache] = []
        var mounts: [SessionMount] = []
        for target in run.cache.sorted() {
            do { caches.append(try store.takeRunCache(target, uid: runtime.user.uid, gid: runtime.user.gid)) } catch {
                throw .store(error)
            }
            mounts.append(.bind(source: caches[caches.count - 1].dataPath, target: target, readOnly: false))
        }
        let context = self.context
        var step = LayerStep(
            key: key, below: below, argv: runtime.argv, environment: runtime.environment,
            workingDirectory: runtime.workingDirectory, hostname: StepRuntime.hostname,
            isolateNetwork: runtime.isolateNetwork, mounts: mounts, confinement: runtime.confinement, epoch: epoch,
            label: environment.paths.name + " step \(name.number)")
        step.user = runtime.user
        step.limits = runtime.limits
        step.nofile = runtime.nofile
        step.identity = .content
        step.commonLeftovers = true
        step.mountPoints = run.cache
        step.onOutput = { context.events(.output(name, $0)) }
        step.keepFailedAs = Self.failedSessionName(environment.paths.name, step: name.number)
        step.manifest = environment.paths.manifest
        let outcome = try self.run(step)
        caches.removeAll()
        switch outcome {
        case .success(let layer):
            do { try store.recordRunStep(key, layer: layer) } catch { throw .store(error) }
            context.events(.done(name, seconds: Self.monotonicSeconds() - began))
            return (layer, true)
        case .failure(let failure):
            context.events(.failed(name, status: failure.status))
            var place = ""
            let index = name.number - 1
            if index >= 0, index < environment.stepOrigins.count {
                let origin = environment.stepOrigins[index]
                place = " at \(origin.file):\(origin.location.line):\(origin.location.column)"
            }
            throw .stepFailed(step: "step \(name.number) (\(name.summary))\(place)", status: failure.status,
                              log: failure.log, session: failure.session)
        }
    }

    /// The session a failed step leaves: one per environment and step, replaced by the next failure.
    static func failedSessionName(_ environment: String, step: Int) -> String? {
        var name = ""
        for character in environment.unicodeScalars {
            let ok = (character >= "a" && character <= "z") || (character >= "A" && character <= "Z")
                || (character >= "0" && character <= "9") || character == "-" || character == "_" || character == "."
            name.unicodeScalars.append(ok ? character : "-")
        }
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic || ("0"..."9").contains(first) else {
            return "step-\(step)-failed"
        }
        return String(name.prefix(40)) + "-step-\(step)-failed"
    }
}
