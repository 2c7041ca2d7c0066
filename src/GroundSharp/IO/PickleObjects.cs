using System.Collections;

namespace GroundSharp.IO;

/// <summary>
/// A Python dict or <c>collections.OrderedDict</c> read from (or to be written to) a pickle. Keys keep their
/// insertion order. Keys are <see cref="long"/>, <see cref="double"/>, <see cref="string"/>, <see cref="bool"/>
/// or <see cref="PickleTuple"/>; values are any object of the pickled tree.
/// </summary>
public sealed class PickleDict : OrderedDictionary<object, object?>
{
    public PickleDict(bool isOrderedDict = false) => IsOrderedDict = isOrderedDict;

    /// <summary>True for a <c>collections.OrderedDict</c> (what <c>state_dict()</c> returns), false for a plain dict.</summary>
    public bool IsOrderedDict { get; }

    /// <summary>
    /// Instance attributes set on the object after construction (pickle BUILD), e.g. the <c>_metadata</c>
    /// that <c>nn.Module.state_dict()</c> attaches to its OrderedDict. Empty for plain dicts.
    /// </summary>
    public Dictionary<string, object?> Attributes { get; } = new();
}

/// <summary>An immutable Python tuple; equal to another tuple with equal items (usable as a dict key).</summary>
public sealed class PickleTuple : IReadOnlyList<object?>, IEquatable<PickleTuple>
{
    private readonly object?[] _items;

    public PickleTuple(params object?[] items) => _items = (object?[])items.Clone();

    public static PickleTuple Empty { get; } = new();

    public object? this[int index] => _items[index];
    public int Count => _items.Length;
    public IEnumerator<object?> GetEnumerator() => ((IEnumerable<object?>)_items).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();

    public bool Equals(PickleTuple? other) =>
        other is not null && _items.Length == other._items.Length && _items.Zip(other._items).All(p => Equals(p.First, p.Second));

    public override bool Equals(object? obj) => obj is PickleTuple t && Equals(t);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var item in _items) hash.Add(item);
        return hash.ToHashCode();
    }

    public override string ToString() => Format(this, depth: 0);

    // Bounded, so that printing a hostile, deeply nested tuple in an error message cannot overflow the stack.
    private static string Format(object? value, int depth) => value switch
    {
        null => "None",
        PickleTuple when depth >= 3 => "(...)",
        PickleTuple t => "(" + string.Join(", ", t._items.Select(i => Format(i, depth + 1))) + (t._items.Length == 1 ? ",)" : ")"),
        string s => $"'{s}'",
        _ => value.ToString() ?? "",
    };

    /// <summary>How deeply tuples nest inside this one (1 for a flat tuple), computed without recursion.</summary>
    internal int NestingDepth()
    {
        int deepest = 0;
        var pending = new Stack<(PickleTuple Tuple, int Depth)>();
        pending.Push((this, 1));
        while (pending.Count > 0)
        {
            var (tuple, depth) = pending.Pop();
            deepest = Math.Max(deepest, depth);
            foreach (var inner in tuple._items.OfType<PickleTuple>()) pending.Push((inner, depth + 1));
        }
        return deepest;
    }
}
