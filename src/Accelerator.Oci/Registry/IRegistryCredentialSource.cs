namespace Accelerator.Oci.Registry;

/// <summary>
/// Credentials given per image rather than configured per host: e.g. the ones a CRI pull request carried (kubelet's
/// image pull secret), kept by the node daemon so that lazy reads after the pull are authorised the same way. A
/// <see cref="RegistryClient"/> asks its <see cref="RegistryOptions.CredentialSource"/> before the configured hosts,
/// docker's config.json and credential helpers.
/// </summary>
/// <remarks>
/// The client asks only for a request that names exactly one repository of one registry, and sends what it gets to
/// that registry (and its token server) only. An implementation must answer only credentials that were given for that
/// registry and repository, never a neighbour's.
/// </remarks>
public interface IRegistryCredentialSource
{
    /// <summary>The credentials for <paramref name="repository"/> on <paramref name="registry"/>, or <see langword="null"/>.</summary>
    /// <param name="registry">The registry host key, <c>host[:port]</c> as in <see cref="ImageReference.Registry"/>.</param>
    /// <param name="repository">The repository, e.g. <c>team/app</c>.</param>
    RegistryCredentials? Find(string registry, string repository);
}
