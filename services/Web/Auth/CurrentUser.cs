using Microsoft.AspNetCore.Components.Authorization;

namespace MetricAlignment.Web.Auth;

/// <summary>
/// The signed-in person for the current scope: the page's request while prerendering, the circuit while interactive.
/// It reads the authentication state the circuit captured when it started, never IHttpContextAccessor, which a circuit
/// cannot rely on.
/// </summary>
public sealed class CurrentUser(AuthenticationStateProvider authenticationState)
{
    public async Task<SignedInUser?> GetAsync() => SignedInUser.From((await authenticationState.GetAuthenticationStateAsync()).User);
}
