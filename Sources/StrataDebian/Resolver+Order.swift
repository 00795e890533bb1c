// The result of a resolution and the order the installer unpacks and configures it in.

/// A consistent set of packages: every Pre-Depends and Depends of each member is satisfied by
/// members, and no member's Conflicts or Breaks hits another.
///
/// Guarantees: immutable and `Sendable`; `packages` is sorted by name, then architecture, then
/// version (dpkg's order), so equal inputs give equal values; `installOrder()` is
/// deterministic too.
public struct Resolution: Sendable {
    /// The chosen packages, sorted.
    public let packages: [PackageRecord]
    /// For `packages[i]`: positions in `packages` of the members satisfying its Pre-Depends.
    let preDependsOn: [[Int]]
    /// For `packages[i]`: positions in `packages` of the members satisfying its Depends.
    let dependsOn: [[Int]]
    /// For `packages[i]`: the names from a request (or the base set) down to it.
    public let chains: [[String]]

    init(resolver: Resolver, chosen: [Int], search: Resolver.Search) {
        var search = search
        let records = resolver.index.records
        let versions = chosen.map { try? DebianVersion(records[$0].version) }
        let order = chosen.indices.sorted { a, b in
            let x = records[chosen[a]], y = records[chosen[b]]
            if x.name != y.name { return x.name < y.name }
            if x.architecture != y.architecture { return x.architecture < y.architecture }
            switch (versions[a], versions[b]) {
            case let (v?, w?) where v != w: return v < w
            default: return chosen[a] < chosen[b]
            }
        }
        let sorted = order.map { chosen[$0] }
        var position: [Int: Int] = [:]
        for (i, record) in sorted.enumerated() { position[record] = i }
        var preDependsOn: [[Int]] = []
        var dependsOn: [[Int]] = []
        for record in sorted {
            let fields = search.chosenFields(record)
            func targets(_ clauses: [RelationClause]) -> [Int] {
                var found = Set<Int>()
                for clause in clauses {
                    if let satisfier = search.chosenSatisfier(clause, from: record), satisfier != record,
                       let p = position[satisfier] {
                        found.insert(p)
                    }
                }
                return found.sorted()
            }
            preDependsOn.append(targets(fields.preDepends))
            dependsOn.append(targets(fields.depends))
        }
        self.packages = sorted.map { records[$0] }
        self.preDependsOn = preDependsOn
        self.dependsOn = dependsOn
        self.chains = sorted.map { search.chain(to: $0) }
    }

    /// The members in an order where each package comes after what it Pre-Depends on and
    /// Depends on. A dependency cycle is broken deterministically: within a cycle, Pre-Depends
    /// are kept and Depends are dropped first, then ties go to the package with fewer
    /// unmet Depends, then by the sorted order.
    public func installOrder() -> [PackageRecord] {
        installOrderPositions().map { packages[$0] }
    }

    func installOrderPositions() -> [Int] {
        let count = packages.count
        // Tarjan's strongly connected components, iteratively: components come out with
        // what they depend on first, which is the install order between components.
        var indexOf = [Int](repeating: -1, count: count)
        var lowLink = [Int](repeating: 0, count: count)
        var onStack = [Bool](repeating: false, count: count)
        var stack: [Int] = []
        var counter = 0
        var result: [Int] = []
        let edges = (0..<count).map { Array(Set(preDependsOn[$0] + dependsOn[$0])).sorted() }
        for root in 0..<count where indexOf[root] < 0 {
            var work: [(node: Int, edge: Int)] = [(root, 0)]
            indexOf[root] = counter; lowLink[root] = counter; counter += 1
            stack.append(root); onStack[root] = true
            while let (node, edge) = work.last {
                if edge < edges[node].count {
                    work[work.count - 1].edge += 1
                    let next = edges[node][edge]
                    if indexOf[next] < 0 {
                        indexOf[next] = counter; lowLink[next] = counter; counter += 1
                        stack.append(next); onStack[next] = true
                        work.append((next, 0))
                    } else if onStack[next] {
                        lowLink[node] = min(lowLink[node], indexOf[next])
                    }
                    continue
                }
                work.removeLast()
                if let parent = work.last { lowLink[parent.node] = min(lowLink[parent.node], lowLink[node]) }
                if lowLink[node] == indexOf[node] {
                    var component: [Int] = []
                    while let member = stack.popLast() {
                        onStack[member] = false
                        component.append(member)
                        if member == node { break }
                    }
                    result += orderCycle(component)
                }
            }
        }
        return result
    }

    /// Orders the members of one cycle: a member is ready when its Pre-Depends inside the
    /// cycle are placed; among the ready, fewest unplaced Depends first, then sorted order.
    /// When none is ready (a Pre-Depends cycle), the one with fewest unplaced Pre-Depends goes.
    private func orderCycle(_ component: [Int]) -> [Int] {
        guard component.count > 1 else { return component }
        let members = Set(component)
        var placed = Set<Int>()
        var order: [Int] = []
        let candidates = component.sorted()
        while order.count < candidates.count {
            var best: (node: Int, key: (Int, Int))?
            for node in candidates where !placed.contains(node) {
                let pre = preDependsOn[node].filter { members.contains($0) && !placed.contains($0) && $0 != node }.count
                let deps = dependsOn[node].filter { members.contains($0) && !placed.contains($0) && $0 != node }.count
                let key = (pre, deps)
                if best == nil || key < best!.key { best = (node, key) }
            }
            guard let chosen = best?.node else { break }
            placed.insert(chosen)
            order.append(chosen)
        }
        return order
    }
}
