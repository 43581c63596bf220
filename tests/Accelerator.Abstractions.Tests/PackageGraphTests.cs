using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Accelerator.Abstractions.Tests;

/// <summary>
/// The package table in docs/architecture.md is the contract for how packages depend on each other: these tests read
/// every project under src/ and fail when a reference is added or removed without the table saying so, when a shipped
/// package opens its internals to another shipped package, or when the facade or a strategy starts to lean on another
/// strategy.
/// </summary>
public sealed partial class PackageGraphTests
{
    /// <summary>The strategy providers: siblings that never reference each other, except Snapshots, which stores block disks through Block's public API.</summary>
    private static readonly string[] Providers = ["Accelerator.Lazy", "Accelerator.Block", "Accelerator.Snapshots", "Accelerator.P2P"];

    [Fact]
    public void ProjectReferences_MatchTheArchitectureTable()
    {
        var table = ReadTable();
        var projects = ReadProjects();

        Assert.Equal(table.Keys.Order(StringComparer.Ordinal), projects.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, references) in projects)
        {
            Assert.True(
                table[name].SetEquals(references),
                $"{name} references [{string.Join(", ", references.Order(StringComparer.Ordinal))}] but docs/architecture.md says [{string.Join(", ", table[name].Order(StringComparer.Ordinal))}].");
        }
    }

    [Fact]
    public void ShippedPackages_OpenInternalsOnlyToTests()
    {
        foreach (var (name, project) in ReadProjectDocuments())
        {
            var friends = project.Descendants("InternalsVisibleTo").Select(e => (string?)e.Attribute("Include") ?? "").ToList();
            Assert.All(friends, friend => Assert.True(
                friend.EndsWith(".Tests", StringComparison.Ordinal) || friend.EndsWith("IntegrationTests", StringComparison.Ordinal) || friend.EndsWith(".Benchmarks", StringComparison.Ordinal),
                $"{name} opens its internals to {friend}, which is not a test project."));
        }

        var sources = Directory.EnumerateFiles(Path.Combine(RepositoryRoot, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
        Assert.All(sources, path => Assert.DoesNotContain("InternalsVisibleTo(", File.ReadAllText(path), StringComparison.Ordinal));
    }

    [Fact]
    public void Facade_ReferencesNoProvider()
    {
        var facade = ReadProjects()["Accelerator"];

        Assert.Empty(facade.Intersect(Providers));
    }

    [Fact]
    public void Providers_DoNotReferenceEachOther()
    {
        var projects = ReadProjects();
        foreach (string provider in Providers)
        {
            var siblings = projects[provider].Intersect(Providers).ToList();
            if (provider == "Accelerator.Snapshots")
            {
                siblings.Remove("Accelerator.Block");
            }

            Assert.True(siblings.Count == 0, $"{provider} references {string.Join(", ", siblings)}.");
        }
    }

    [Fact]
    public void NativeCalls_LiveOnlyInTheLinuxPackage()
    {
        var offenders = Directory.EnumerateFiles(Path.Combine(RepositoryRoot, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(p => !p.Contains($"src{Path.DirectorySeparatorChar}Accelerator.Linux{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(p => NativeImport().IsMatch(File.ReadAllText(p)))
            .Select(p => Path.GetRelativePath(RepositoryRoot, p))
            .ToList();

        Assert.Empty(offenders);
    }

    private static Dictionary<string, HashSet<string>> ReadTable()
    {
        string text = File.ReadAllText(Path.Combine(RepositoryRoot, "docs", "architecture.md"));
        int start = text.IndexOf("## Packages", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/architecture.md has no \"## Packages\" section.");

        var table = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (string line in text[start..].Split('\n').SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')))
        {
            string[] cells = line.Split('|', StringSplitOptions.TrimEntries);
            if (cells.Length < 5 || TableName().Match(cells[1]) is not { Success: true } name)
            {
                continue;
            }

            // The last column lists project references as `Accelerator.X` (packages such as ZstdSharp.Port are plain text).
            var references = TableName().Matches(cells[^2]).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
            table[name.Groups[1].Value] = references;
        }

        Assert.NotEmpty(table);
        return table;
    }

    private static Dictionary<string, HashSet<string>> ReadProjects() =>
        ReadProjectDocuments().ToDictionary(
            p => p.Name,
            p => p.Project.Descendants("ProjectReference")
                .Select(e => Path.GetFileNameWithoutExtension(((string?)e.Attribute("Include") ?? "").Replace('\\', '/')))
                .ToHashSet(StringComparer.Ordinal),
            StringComparer.Ordinal);

    private static IEnumerable<(string Name, XDocument Project)> ReadProjectDocuments() =>
        Directory.EnumerateFiles(Path.Combine(RepositoryRoot, "src"), "*.csproj", SearchOption.AllDirectories)
            .Select(path => (Path.GetFileNameWithoutExtension(path), XDocument.Load(path)));

    private static string RepositoryRoot { get; } = FindRepositoryRoot();

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Accelerator.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Accelerator.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>A package name in backticks: `Accelerator.X` or `Accelerator`.</summary>
    [GeneratedRegex(@"`(Accelerator(?:\.[A-Za-z0-9]+)*)`")]
    private static partial Regex TableName();

    [GeneratedRegex(@"\[(?:DllImport|LibraryImport)\(")]
    private static partial Regex NativeImport();
}
